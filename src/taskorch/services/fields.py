"""The text rules of :mod:`taskorch.domain.text` for pydantic models and plain arguments.

- :data:`OneLine` and :data:`MultiLine` are the string types of every model field a person or an
  assistant writes (see ``services/models.py``).
- :func:`text_arguments` applies the same rules to the plain ``str`` arguments of an
  :class:`~taskorch.services.app.Orchestrator` method.
- :func:`input_error` turns a pydantic ``ValidationError`` into the :class:`InvalidInput` both
  faces report, naming the field as a dotted path (``subtasks.2.title``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ParamSpec, TypeVar

from pydantic import AfterValidator, ValidationError
from pydantic_core import PydanticCustomError

from taskorch.domain.text import checked_text, control_problem
from taskorch.errors import InvalidInput

__all__ = ["MultiLine", "OneLine", "input_error", "text_arguments"]

P = ParamSpec("P")
R = TypeVar("R")

#: The pydantic error type of a refused control character; its context holds ``problem`` and ``fix``.
CONTROL_CHARACTER = "control_character"


def _checked(value: str, *, multiline: bool) -> str:
    problem = control_problem(value, multiline=multiline)
    if problem is not None:
        raise PydanticCustomError(CONTROL_CHARACTER, "{problem} Fix: {fix}", {"problem": problem[0], "fix": problem[1]})
    return value.replace("\r\n", "\n") if multiline else value


def _one_line(value: str) -> str:
    return _checked(value, multiline=False)


def _multi_line(value: str) -> str:
    return _checked(value, multiline=True)


#: A string of one line: no control character at all.
OneLine = Annotated[str, AfterValidator(_one_line)]
#: A string of lines: line feeds and tabs kept, CR LF made LF, other control characters refused.
MultiLine = Annotated[str, AfterValidator(_multi_line)]

_PREFIXES = ("Value error, ", "Assertion failed, ")


def _field(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"] if "[" not in str(part)) or "input"


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _worded(error: Any) -> tuple[str, str | None] | None:
    """What was wrong and the fix, for the pydantic error types a caller meets most; None for
    the others (pydantic's own message is kept)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    unit = "character" if isinstance(value, str) else "item"
    if kind == "missing":
        return "is required.", "pass it."
    if kind == "extra_forbidden":
        return "is not an accepted field here.", "remove it, or check its spelling."
    if kind in ("string_too_short", "too_short") and "min_length" in ctx:
        problem = "is empty." if not value else f"has fewer than {_plural(ctx['min_length'], unit)}."
        return problem, f"give at least {_plural(ctx['min_length'], unit)}."
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        return f"is longer than {_plural(ctx['max_length'], unit)}.", f"shorten it to at most {ctx['max_length']}."
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return "is not one of the accepted values.", f"use one of: {ctx['expected']}."
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _message_text(error), "pass a number in the allowed range."
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return "does not have the accepted form.", f"match the pattern {ctx['pattern']}."
    return None


def _message_text(error: Any) -> str:
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message.rstrip(".") + "."


def _message(error: Any) -> str:
    if error["type"] == CONTROL_CHARACTER:
        return str((error.get("ctx") or {}).get("problem"))
    worded = _worded(error)
    if worded is not None:
        return worded[0]
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message.rstrip(".") + "."


#: How many further rejected fields an error names after the first.
MORE_SHOWN = 5


def input_error(exc: ValidationError) -> InvalidInput:
    """The errors of ``exc`` as one :class:`InvalidInput` naming the first field (dotted path,
    with list indexes: ``subtasks.2.title``), what was wrong and the fix, then the other fields
    rejected (at most :data:`MORE_SHOWN`).

    Pydantic's "Value error, " prefix and its documentation URLs are dropped; the common error
    types (missing, unknown field, too short or long, not an accepted value, out of range,
    pattern) are worded with a fix, and a refused control character keeps its own.
    Parts of the path that name a union member (``list[str]``) are left out.
    """
    errors = exc.errors(include_url=False)
    first = errors[0]
    problem = _message(first)
    others = [f"{_field(e)}: {_message(e)}" for e in errors[1:] if _field(e) != _field(first)]
    others = list(dict.fromkeys(others))
    also = ""
    if others:
        also = " Also " + " ".join(others[:MORE_SHOWN]) + (" ..." if len(others) > MORE_SHOWN else "")
    if first["type"] == CONTROL_CHARACTER:
        fix: str | None = str((first.get("ctx") or {}).get("fix"))
    else:
        worded = _worded(first)
        fix = worded[1] if worded is not None else None
    # The other fields come last, after the first field's fix.
    if fix is not None:
        fix += also
    else:
        problem += also
    return InvalidInput(_field(first), problem, fix)


def _check_value(name: str, value: Any, multiline: bool) -> Any:
    if isinstance(value, str):
        return checked_text(value, field=name, multiline=multiline)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                checked_text(key, field=name, multiline=False)
            _check_value(f"{name}.{key}", item, multiline)
        return value
    if isinstance(value, list | tuple):
        return type(value)(_check_value(f"{name}.{index}", item, multiline) for index, item in enumerate(value))
    return value


def text_arguments(
    *, lines: Iterable[str] = (), texts: Iterable[str] = ()
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the named arguments before the method runs: ``lines`` are one-line text, ``texts``
    multi-line text (their CR LF become LF). A list or dict argument has each item checked
    (``default_labels.2``). None and non-string values pass untouched (their types are checked
    elsewhere). Raises :class:`InvalidInput` naming the argument.
    """
    rules = dict.fromkeys(lines, False) | dict.fromkeys(texts, True)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)
        unknown = set(rules) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no argument(s) {sorted(unknown)}")

        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            for name, multiline in rules.items():
                if name in bound.arguments:
                    bound.arguments[name] = _check_value(name, bound.arguments[name], multiline)
            return fn(*bound.args, **bound.kwargs)

        return checked

    return decorate
