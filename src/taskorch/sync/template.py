"""Issue bodies: a sandboxed Jinja2 template over the task's fields, plus a hidden marker.

The template is the project's (``issue_template``) or :data:`DEFAULT_TEMPLATE`. It is rendered in
Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`: task fields are data, never code, and
text that came from the platform is only ever passed as data. The marker is an HTML comment
(invisible on the rendered issue) carrying the link's idempotency key, so a retry after a crash
finds the issue it already created.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from taskorch.errors import InvalidInput

__all__ = ["DEFAULT_TEMPLATE", "check_template", "find_marker", "marker", "render_body", "strip_marker"]

DEFAULT_TEMPLATE = """{{ description }}
{% if acceptance_criteria %}
### Acceptance criteria
{% for criterion in acceptance_criteria %}
- [ ] {{ criterion }}
{%- endfor %}
{% endif %}
---
_Planned with taskorch: task {{ id }}, {{ task_type }} for the {{ specialist_type }}._"""

_MARKER = re.compile(r"\n*<!-- taskorch:key=([0-9a-f]{32}) -->\s*$")


def marker(key: str) -> str:
    return f"<!-- taskorch:key={key} -->"


def find_marker(body: str | None) -> str | None:
    """The idempotency key in an issue body, if it carries one."""
    match = _MARKER.search(body or "")
    return match.group(1) if match else None


def strip_marker(body: str | None) -> str:
    return _MARKER.sub("", body or "").rstrip()


@lru_cache(maxsize=32)
def _compiled(source: str) -> Any:
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise InvalidInput(
            "issue_template", f"is not a valid template: {exc.message} (line {exc.lineno}).", "fix the template."
        ) from None


_SAMPLE = {
    "id": 1,
    "title": "Sample",
    "description": "Sample description",
    "task_type": "feature",
    "complexity": "moderate",
    "priority": "medium",
    "specialist_type": "implementer",
    "labels": ["a"],
    "acceptance_criteria": ["works"],
    "estimated_effort": "1h",
    "due_date": None,
    "parent_id": None,
}


def check_template(source: str) -> None:
    """Compile and trial-render ``source``; raises :class:`InvalidInput` with the reason."""
    render_body(source, _SAMPLE)


def render_body(source: str | None, task: Mapping[Any, Any]) -> str:
    """The issue body (without the marker) for ``task``'s fields; raises :class:`InvalidInput`."""
    from jinja2 import TemplateError

    template = _compiled(source or DEFAULT_TEMPLATE)
    try:
        return str(template.render(**task)).strip()
    except TemplateError as exc:
        raise InvalidInput("issue_template", f"cannot be rendered: {exc}.", "use only the task's fields.") from None
