"""Ids on the command line: one parser for every argument and option that names a task, a
conflict or an issue.

An id is ASCII digits only, 1 to 2**31 - 1 (:func:`taskorch.domain.text.parse_id`): ``٣``, ``²``,
``-1`` or ``9223372036854775808`` are usage errors (exit code 2) saying why, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from taskorch.domain.text import parse_id
from taskorch.errors import InvalidInput

#: Largest id the store holds (as :data:`taskorch.services.models.MAX_ID`, without importing
#: pydantic at start-up).
MAX_ID = 2**31 - 1

__all__ = ["ConflictIdArg", "IssueNumberArg", "TaskArg", "id_parser", "task_id_parser"]


def id_parser(what: str) -> Callable[[str], int]:
    """A Typer ``parser`` for ``what`` (e.g. "task number"): the value as an int, else a usage error."""

    def parse(value: str) -> int:
        if isinstance(value, int):  # a default, already an id
            return value
        try:
            return parse_id(value, field=what, maximum=MAX_ID)
        except InvalidInput as exc:
            raise typer.BadParameter(f"{exc.problem} Fix: {exc.fix}") from None

    return parse


task_id_parser = id_parser("task number")

TaskArg = Annotated[
    int, typer.Argument(parser=task_id_parser, metavar="TASK", help="Task number in the project.", show_default=False)
]
ConflictIdArg = Annotated[
    int, typer.Argument(parser=id_parser("conflict id"), metavar="CONFLICT_ID", show_default=False)
]
IssueNumberArg = Annotated[
    int, typer.Argument(parser=id_parser("issue number"), metavar="ISSUE_NUMBER", show_default=False)
]
