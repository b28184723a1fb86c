"""Issue bodies: a sandboxed Jinja2 template over the task's fields, plus a hidden marker.

The template is the project's (``issue_template``) or :data:`DEFAULT_TEMPLATE`. It is rendered in
Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`: task fields are data, never code,
and text that came from the platform is only ever passed as data. The marker is an HTML comment
(invisible on the rendered issue) carrying the link's idempotency key, so a retry after a crash
finds the issue it already created.

A template may come from an assistant, so every render is bounded (:class:`RenderLimits`), with
no thread and no signal: ``range()`` sizes; loop iterations plus calls (each ``for`` iterable is
wrapped in a counter, each call and filter counted); the output (rendered through
``generate()``, its length summed per chunk) and every intermediate string or list; and a
monotonic deadline checked at each of those steps. Operations that would allocate more than the
output bound in one go (``'x' * n``, ``'%999999s'``, ``center(n)``, ``replace`` ...) are refused
before they run. ``namespace()`` and ``lipsum()`` are not available: nothing accumulates across
loop iterations. A bound exceeded is an :class:`~taskorch.errors.InvalidInput` on
``issue_template`` naming the bound.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from typing import Any

from taskorch.errors import InvalidInput

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TEMPLATE",
    "RenderLimits",
    "check_template",
    "find_marker",
    "marker",
    "render_body",
    "strip_marker",
]

DEFAULT_TEMPLATE = """{{ description }}
{% if acceptance_criteria %}
### Acceptance criteria
{% for criterion in acceptance_criteria %}
- [ ] {{ criterion }}
{%- endfor %}
{% endif %}
---
_Planned with taskorch: task {{ id }}, {{ task_type }} for the {{ specialist_type }}._"""

#: The marker wherever it is in the body: a person may write below it, or move it.
_MARKER = re.compile(r"<!-- taskorch:key=([0-9a-f]{32}) -->")


def marker(key: str) -> str:
    return f"<!-- taskorch:key={key} -->"


def find_marker(body: str | None) -> str | None:
    """The idempotency key in an issue body, if it carries one: the first marker anywhere in it
    (a person may have written below it)."""
    match = _MARKER.search(body or "")
    return match.group(1) if match else None


def strip_marker(body: str | None) -> str:
    """``body`` without its markers: text below a marker joins the text above it after a blank
    line; trailing whitespace is dropped."""
    pieces = _MARKER.split(body or "")[::2]
    if len(pieces) == 1:
        return pieces[0].rstrip()
    pieces = [pieces[0].rstrip(), *(piece.strip("\n").rstrip() for piece in pieces[1:])]
    return "\n\n".join(piece for piece in pieces if piece.strip())


@dataclass(frozen=True)
class RenderLimits:
    """Bounds of one render. ``seconds`` is measured on ``clock`` (seconds, monotonic);
    ``steps`` counts loop iterations plus calls and filters; ``range_size`` is the most elements
    one ``range()`` may have; ``output_chars`` bounds the body (GitHub takes 65,536 characters)
    and every string or list made on the way."""

    seconds: float = 2.0
    steps: int = 100_000
    range_size: int = 10_000
    output_chars: int = 65_000
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


DEFAULT_LIMITS = RenderLimits()


class BoundExceeded(Exception):
    """A render went past one of its :class:`RenderLimits`; ``bound`` names which."""

    def __init__(self, bound: str, detail: str) -> None:
        self.bound = bound
        self.detail = detail
        super().__init__(f"{bound}: {detail}")


class _Budget:
    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = limits.clock() + limits.seconds
        self.steps = 0
        self.output = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise BoundExceeded(
                "loop iterations", f"more than {self.limits.steps:,} loop iterations and calls in one render"
            )
        self.check_time()

    def check_time(self) -> None:
        if self.limits.clock() > self.deadline:
            raise BoundExceeded("time", f"rendering took longer than {self.limits.seconds:g} s")


_budget: ContextVar[_Budget | None] = ContextVar("taskorch_template_budget", default=None)
#: The output bound when no render is active (constant folding while compiling).
_COMPILE_LIMITS = DEFAULT_LIMITS


def _limits() -> RenderLimits:
    budget = _budget.get()
    return budget.limits if budget is not None else _COMPILE_LIMITS


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step()


def _refuse_size(what: str, size: float) -> None:
    cap = _limits().output_chars
    if size > cap:
        raise BoundExceeded("output size", f"{what} would be {int(size):,} long, over the {cap:,} limit")


def _check_result(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _refuse_size("a value", len(value))
    elif isinstance(value, int) and value.bit_length() > 4096:
        raise BoundExceeded("output size", "a number over 4096 bits")
    return value


_WIDE_FORMAT = re.compile(r"%[-#0 +]*(?:\*|\d{5,})|%[-#0 +]*\d*\.(?:\*|\d{5,})|\{[^{}]*:[^{}]*(?:\d{5,}|\{)")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise BoundExceeded("output size", "a format width or precision over 9,999 (or taken from an argument)")


def _lines(value: Any) -> int:
    return str(value).count("\n") + 1


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _refuse_size("a replace() result", len(text) + hits * max(0, len(new) - len(old)))


def _check_join(items: Any, separator: Any) -> None:
    if isinstance(separator, str) and hasattr(items, "__len__"):
        _refuse_size("a join() result", len(separator) * len(items))


def _width(value: Any) -> int:
    return value if isinstance(value, int) else len(value) if isinstance(value, str) else 0


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a filter call that would allocate past the output bound before it runs."""

    def arg(index: int, key: str, default: Any = None) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "center":
        _refuse_size("a center() result", _width(arg(0, "width", 80)))
    elif name == "indent":
        _refuse_size("an indent() result", _width(arg(0, "width", 4)) * _lines(value) + len(str(value)))
    elif name == "wordwrap":
        wrap = arg(3, "wrapstring") or "\n"
        width = max(1, _width(arg(0, "width", 79)))
        _refuse_size("a wordwrap() result", len(str(value)) + len(str(wrap)) * (len(str(value)) // width + 1))
    elif name in ("batch", "slice"):
        _refuse_size(f"a {name}() result", _width(arg(0, "linecount" if name == "batch" else "slices", 0)))
    elif name == "replace":
        _check_replace(value, arg(0, "old"), arg(1, "new"), arg(2, "count", -1))
    elif name == "join":
        _check_join(value, arg(0, "d", ""))
    elif name == "format":
        _check_format(value)
    elif name == "tojson":
        _refuse_size("a tojson() indent", _width(arg(0, "indent", 0)) * 1000)


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        # The filtered value follows the context or environment a filter may ask for.
        offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        if len(args) > offset:
            _check_filter(name, args[offset], tuple(args[offset + 1 :]), kwargs)
        return _check_result(func(*args, **kwargs))

    return guarded


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``for`` loop iterates through this: one step per iteration."""
    for item in iterable:
        _tick()
        yield item


_METHOD_WIDTHS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
COUNTED_FILTER = "taskorch_counted"


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _tick()
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if hasattr(seq, "__len__") and isinstance(times, int):
                        _refuse_size("a repetition", len(seq) * times)
            elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
                if abs(left) > 1 and right * max(1, abs(left).bit_length()) > 4096:
                    raise BoundExceeded("output size", "a power over 4096 bits")
            elif operator == "%":
                _check_format(left)
            elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
                _refuse_size("a concatenation", len(left) + len(right))
            return _check_result(super().call_binop(context, operator, left, right))

        def wrap_str_format(self, value: Any) -> Any:
            owner = getattr(value, "__self__", None)
            if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
                _check_format(owner)
            return super().wrap_str_format(value)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _tick()
            for value in (*args, *kwargs.values()):  # nothing grows by being passed on (macros)
                _check_result(value)
            owner = getattr(__obj, "__self__", None)
            method = getattr(__obj, "__name__", "")
            if isinstance(owner, str):
                if method in ("format", "format_map"):
                    _check_format(owner)
                elif method in _METHOD_WIDTHS:
                    _refuse_size(f"a {method}() result", max([_width(a) for a in args] + [len(owner)]))
                elif method == "replace":
                    _check_replace(owner, *args[:3])
                elif method == "join" and args:
                    _check_join(args[0], owner)
            return _check_result(super().call(__context, __obj, *args, **kwargs))

    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: _guard_filter(name, func) for name, func in env.filters.items()}
    env.filters[COUNTED_FILTER] = _counted
    for unsafe in ("namespace", "lipsum"):
        env.globals.pop(unsafe, None)

    def bounded_range(*args: int) -> range:
        numbers = range(*args)
        size = _limits().range_size
        if len(numbers) > size:
            raise BoundExceeded("range size", f"range() of {len(numbers):,} numbers, over the {size:,} limit")
        return numbers

    env.globals["range"] = bounded_range
    return env


@lru_cache(maxsize=32)
def _compiled(source: str) -> Any:
    from jinja2 import TemplateSyntaxError, nodes

    env = _environment()
    try:
        tree = env.parse(source)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, COUNTED_FILTER, [], [], None, None, lineno=loop.lineno)
        return env.from_string(tree)
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


def check_template(source: str, limits: RenderLimits = DEFAULT_LIMITS) -> None:
    """Compile and trial-render ``source`` on sample fields, within ``limits``; raises
    :class:`InvalidInput` on ``issue_template`` with the reason (the bound exceeded, if one was)."""
    render_body(source, _SAMPLE, limits)


def render_body(source: str | None, task: Mapping[Any, Any], limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """The issue body (without the marker) for ``task``'s fields, rendered within ``limits``.

    Raises :class:`InvalidInput` on ``issue_template``: not a template, not renderable with the
    task's fields, or a bound exceeded (named in the message).
    """
    from jinja2 import TemplateError

    template = _compiled(source or DEFAULT_TEMPLATE)
    budget = _Budget(limits)
    token = _budget.set(budget)
    chunks: list[str] = []
    generator = template.generate(**task)
    try:
        for chunk in generator:
            budget.output += len(chunk)
            if budget.output > limits.output_chars:
                raise BoundExceeded("output size", f"the body would be longer than {limits.output_chars:,} characters")
            budget.check_time()
            chunks.append(chunk)
    except BoundExceeded as exc:
        raise InvalidInput(
            "issue_template",
            f"exceeds its {exc.bound} bound: {exc.detail}.",
            "make the template simpler: it renders one issue body from the task's fields.",
        ) from None
    except TemplateError as exc:
        raise InvalidInput("issue_template", f"cannot be rendered: {exc}.", "use only the task's fields.") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidInput(
            "issue_template", f"cannot be rendered: {type(exc).__name__}.", "use only the task's fields."
        ) from None
    finally:
        generator.close()
        _budget.reset(token)
    return "".join(chunks).strip()
