"""What to do next, said once by the services and worded by each face.

A service that tells its caller what to do next (call this, pass that) does not write the
caller's words: the MCP face names tools and arguments (``orchestrator_update_task`` with
``depends_on=[]``), the CLI names commands and flags (``taskorch update-task 3
--no-dependencies``). So messages are :data:`Message` values: text with :class:`Hint` parts (a
call to make: a verb, the name of the service method and tool without its prefix, and
arguments) and :class:`Param` parts (an argument to change), and each face renders them with its
own :class:`Words`.

- :class:`~taskorch.errors.TaskorchError` takes a message (``exc.render(words)``; ``str(exc)``
  renders it with :data:`PLAIN`).
- A result with a ``next_step`` string carries its message too (:func:`attach`); a face calls
  :func:`finish` to reword ``next_step`` before showing the result.

This module imports nothing of taskorch: every layer may use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = [
    "PLAIN",
    "REQUIRED",
    "Hint",
    "Message",
    "Param",
    "Part",
    "Words",
    "attach",
    "attached",
    "finish",
    "render",
]


class _Required:
    """An argument the caller must supply, without a value to suggest."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: The value of a :class:`Hint` argument the caller fills in (e.g. a summary).
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Hint:
    """A call the reader should make: ``verb`` (e.g. ``"execute_task"``, ``"git_integration"``)
    with ``args`` in the order they should be shown (values are JSON-like; :data:`REQUIRED` for
    one the caller supplies)."""

    verb: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.verb, tuple(self.args)))


@dataclass(frozen=True)
class Param:
    """An argument of ``verb`` to name (e.g. the one to change), with the value to pass, if any:
    ``Param("force", value=True)`` reads ``force=true`` to an assistant and ``--force`` on the
    command line."""

    name: str
    verb: str | None = None
    value: Any = None


Part = str | Hint | Param
#: Text and hints, rendered by joining the parts' words.
Message = tuple[Part, ...]


class Words(Protocol):
    """How a face words a hint and a parameter."""

    def call(self, hint: Hint) -> str: ...

    def param(self, param: Param) -> str: ...


def value_text(value: Any) -> str:
    """A value as an argument is written: strings bare, the rest as JSON (``true``, ``[]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class _Plain:
    """The neutral wording: the verb and ``name=value`` arguments, as the services name them."""

    def call(self, hint: Hint) -> str:
        args = [name if value is REQUIRED else f"{name}={value_text(value)}" for name, value in hint.args.items()]
        return hint.verb + (" with " + ", ".join(args) if args else "")

    def param(self, param: Param) -> str:
        return param.name if param.value is None else f"{param.name}={value_text(param.value)}"


#: The wording of a message read outside any face (logs, ``str(error)``).
PLAIN: Words = _Plain()


def render(message: str | Message, words: Words = PLAIN) -> str:
    """``message`` as text in ``words``."""
    if isinstance(message, str):
        return message
    out = []
    for part in message:
        if isinstance(part, Hint):
            out.append(words.call(part))
        elif isinstance(part, Param):
            out.append(words.param(part))
        else:
            out.append(part)
    return "".join(out)


_ATTRIBUTE = "_taskorch_next_step"
R = TypeVar("R")


def attach(result: R, message: Message) -> R:
    """Keep ``message`` with ``result`` (a result model with a ``next_step`` string); return it.

    ``next_step`` itself holds the :data:`PLAIN` wording until a face calls :func:`finish`. The
    message is not part of the model's fields, schema or JSON.
    """
    object.__setattr__(result, _ATTRIBUTE, message)
    object.__setattr__(result, "next_step", render(message))
    return result


def attached(result: Any) -> Message | None:
    """The message :func:`attach` kept with ``result``, if any."""
    found: Message | None = getattr(result, _ATTRIBUTE, None)
    return found


def finish(result: R, words: Words) -> R:
    """Reword ``result.next_step`` in ``words`` when it carries a message; return ``result``."""
    message = attached(result)
    if message is not None:
        object.__setattr__(result, "next_step", render(message, words))
    return result
