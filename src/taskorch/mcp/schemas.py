"""JSON schemas as the tools publish them: flat, inline and small.

Clients validate every ``structuredContent`` against the tool's ``outputSchema`` (the official
client with ``jsonschema``), and some show schemas to the model; ``$ref`` chains and nullable
``anyOf`` make that slower and longer for nothing. The schemas pydantic generates are rewritten
once, when the tool list is first served:

- :func:`compact_schema` drops pydantic's ``title`` keywords (input and output schemas);
- :func:`flat_input_schema` and :func:`flat_output_schema` also inline ``$defs``, write nullable
  fields as type arrays (``{"type": ["string", "null"]}``; an optional argument simply as its
  type) and drop what says nothing: a ``default`` of null, the ``maximum`` every id has (the
  store's 32-bit limit, still checked) and the docstrings of inlined definitions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["compact_schema", "flat_input_schema", "flat_output_schema", "flatten"]

#: The largest id (ids are 32-bit integer columns on PostgreSQL): checked, not published.
MAX_ID = 2**31 - 1

_NULL = {"type": "null"}


def compact_schema(schema: Any) -> Any:
    """Drop the ``title`` keywords pydantic adds to every schema and property.

    They repeat the property names and cost an assistant context on every session; nothing
    reads them. A property *named* ``title`` is kept.
    """
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value)
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` (already flat) with ``null`` added to its type, or None when it has no single type."""
    kind = schema.get("type")
    if isinstance(kind, str):
        kinds = [kind, "null"]
    elif isinstance(kind, list):
        kinds = [*kind, "null"] if "null" not in kind else kind
    else:
        return None
    out = {**schema, "type": kinds}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def flatten(schema: Any, defs: dict[str, Any] | None = None, *, output: bool = False) -> Any:
    """``schema`` with every ``$ref`` into ``defs`` inlined and ``anyOf [X, null]`` as a type array.

    Dropped: ``title`` and ``$defs`` keywords, a ``maximum`` of :data:`MAX_ID`, a ``default`` of
    null, of the empty string or of an empty list, and the description of a definition (a
    model's or an enum's docstring) where it is inlined (those of the properties stay). An
    answer leaves out a field holding its default, so the other defaults stay in output schemas.
    In an input schema an optional argument (default null) is published without its null:
    omitting it says the same, and the server still accepts an explicit null. Recursive models
    are not supported (no tool's schema is recursive).
    """
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    defs = defs or {}
    if isinstance(schema, list):
        return [flatten(item, defs, output=output) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = flatten(defs[str(schema["$ref"]).rsplit("/", 1)[1]], defs, output=output)
        target.pop("description", None)
        rest = flatten({k: v for k, v in schema.items() if k != "$ref"}, defs, output=output)
        return {**target, **rest}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if (
            key == "$defs"
            or (key == "title" and isinstance(value, str))
            or (key == "default" and value in (None, "", []))
            or (key == "maximum" and value == MAX_ID)
        ):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: flatten(sub, defs, output=output) for name, sub in value.items()}
        else:
            out[key] = flatten(value, defs, output=output)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and _NULL in options:
        other = options[0] if options[1] == _NULL else options[1]
        if not output and schema.get("default", _NULL) is None and isinstance(other, dict):
            # An optional argument: omitting it is how a caller says "none".
            return {**other, **{k: v for k, v in out.items() if k != "anyOf"}}
        merged = _nullable(other) if isinstance(other, dict) else None
        if merged is not None:
            rest = {k: v for k, v in out.items() if k != "anyOf"}
            return {**merged, **rest}
    return out


def flat_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema (as the SDK derives it from a tool's signature) flat; defaults other than null kept."""
    result: dict[str, Any] = flatten(schema)
    return result


def flat_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The output schema of ``model``'s JSON form (what ``model_dump(mode="json")`` gives), flat."""
    result: dict[str, Any] = flatten(model.model_json_schema(mode="serialization"), output=True)
    return result
