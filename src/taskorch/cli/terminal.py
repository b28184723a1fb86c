"""Stored text on the terminal: what a person or a platform wrote is shown, never obeyed.

Every value the CLI prints that came from the store goes through :func:`safe`: control characters
are written out as escapes (an ESC as ``\\x1b``, see :func:`taskorch.domain.text.printable`), and
the result is a Rich :class:`~rich.text.Text`, which Rich never reads as markup (``[bold]``), emoji
codes (``:rocket:``) or highlighting. Markdown the store holds (syntheses, handovers, role
instructions) is rendered as Markdown after the same escaping; JSON is printed with every control
character escaped as ``\\u00XX``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from rich.text import Text

from taskorch.domain.text import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.markdown import Markdown

__all__ = ["cells", "print_json", "safe", "safe_markdown"]

#: Control characters JSON leaves unescaped (it escapes U+0000 to U+001F itself).
_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f]")


def safe(value: object, style: str = "") -> Text:
    """Stored text (or any value, through ``str``) as terminal text that prints literally."""
    return Text(printable(str(value)), style=style)


def cells(*values: object) -> list[Text]:
    """A table row of stored values, each through :func:`safe`."""
    return [safe(value) for value in values]


def safe_markdown(text: str) -> Markdown:
    """Stored Markdown, rendered, with its control characters escaped first."""
    from rich.markdown import Markdown  # a tenth of a second: only for commands that print Markdown

    return Markdown(printable(text))


def print_json(console: Console, json_text: str) -> None:
    """Print a JSON document indented and highlighted, as ``Console.print_json`` would, but with
    DEL and C1 escaped too (JSON itself escapes only U+0000 to U+001F)."""
    from rich.highlighter import JSONHighlighter

    indented = json.dumps(json.loads(json_text), indent=2, ensure_ascii=False)
    escaped = _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", indented)
    console.print(JSONHighlighter()(Text(escaped)), soft_wrap=True)
