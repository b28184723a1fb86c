"""Text from people and platforms: which characters a field may hold, ids given as text, and how
any stored text is shown safely.

Rules (every face applies them through :mod:`taskorch.services.fields`):

- **One-line fields** (titles, labels, keys, names, logins, milestone titles, versions, commits,
  acceptance criteria, each one checklist line) refuse every control character: C0 (U+0000 to
  U+001F, tab and line feed included), DEL (U+007F) and C1 (U+0080 to U+009F; some terminals
  obey its CSI, U+009B, like ESC ``[``).
- **Multi-line fields** (descriptions, context, summaries, detailed work, reasons, notes,
  templates) keep line feed and tab. A CR LF pair becomes a line feed; any other control
  character, a lone CR included (it rewinds a terminal line), is refused.
- NUL is refused everywhere.

Text stored before these rules, or taken from a Git platform, may still hold anything:
:func:`printable` is what every face shows of it.
"""

from __future__ import annotations

import re

from taskorch.errors import InvalidInput

__all__ = [
    "MULTI_LINE_FIX",
    "ONE_LINE_FIX",
    "checked_text",
    "control_problem",
    "describe_character",
    "parse_id",
    "printable",
]

_C0_NAMES = [
    "NUL",
    "SOH",
    "STX",
    "ETX",
    "EOT",
    "ENQ",
    "ACK",
    "BEL",
    "BS",
    "HT",
    "LF",
    "VT",
    "FF",
    "CR",
    "SO",
    "SI",
    "DLE",
    "DC1",
    "DC2",
    "DC3",
    "DC4",
    "NAK",
    "SYN",
    "ETB",
    "CAN",
    "EM",
    "SUB",
    "ESC",
    "FS",
    "GS",
    "RS",
    "US",
]
_C1_NAMES = [
    "PAD",
    "HOP",
    "BPH",
    "NBH",
    "IND",
    "NEL",
    "SSA",
    "ESA",
    "HTS",
    "HTJ",
    "VTS",
    "PLD",
    "PLU",
    "RI",
    "SS2",
    "SS3",
    "DCS",
    "PU1",
    "PU2",
    "STS",
    "CCH",
    "MW",
    "SPA",
    "EPA",
    "SOS",
    "SGC",
    "SCI",
    "CSI",
    "ST",
    "OSC",
    "PM",
    "APC",
]
#: Every control character: C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: The control characters a multi-line field refuses (all but tab and line feed).
_CONTROL_MULTI_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

ONE_LINE_FIX = "remove it: this field is one line of plain text (no line breaks, tabs or terminal escape codes)."
MULTI_LINE_FIX = "remove it: line breaks (\\n) and tabs are the only control characters this field keeps."


def describe_character(char: str) -> str:
    """A character for a message: ``U+001B (ESC)``; the name only for control characters."""
    code = ord(char)
    name = None
    if code < 0x20:
        name = _C0_NAMES[code]
    elif code == 0x7F:
        name = "DEL"
    elif 0x80 <= code <= 0x9F:
        name = _C1_NAMES[code - 0x80]
    return f"U+{code:04X}" + (f" ({name})" if name else "")


def control_problem(value: str, *, multiline: bool) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``value`` holds a control character the field refuses, else None.

    A multi-line value is looked at after its CR LF pairs became line feeds.
    """
    text = value.replace("\r\n", "\n") if multiline else value
    found = (_CONTROL_MULTI_LINE if multiline else _CONTROL).search(text)
    if found is None:
        return None
    return (
        f"contains the control character {describe_character(found.group())} at character {found.start() + 1}"
        f" of {len(text)}.",
        MULTI_LINE_FIX if multiline else ONE_LINE_FIX,
    )


def checked_text(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` checked against the field's rule; multi-line values come back with LF line ends.

    Raises :class:`InvalidInput` naming ``field`` and the character.
    """
    problem = control_problem(value, multiline=multiline)
    if problem is not None:
        raise InvalidInput(field, *problem)
    return value.replace("\r\n", "\n") if multiline else value


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return "\\r" if char == "\r" else f"\\x{ord(char):02x}"


def printable(value: str) -> str:
    """``value`` safe to show on a terminal or in a text summary: every control character but
    line feed and tab is written out as an escape (ESC as the four characters ``\\x1b``, CR as
    ``\\r``), so nothing stored can move the cursor, recolour or retitle a terminal."""
    return _CONTROL_MULTI_LINE.sub(_escape, value.replace("\r\n", "\n"))


_ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_id(text: str, *, field: str, maximum: int) -> int:
    """An id given as text: ASCII digits only (no sign, space or other script's digits), 1 to
    ``maximum``. Raises :class:`InvalidInput` naming ``field``.

    ``int()`` alone would take ``'٣'`` as 3, fail on ``'²'`` and build any huge number, which
    the database then cannot bind.
    """
    if not _ASCII_DIGITS.fullmatch(text):
        shown = printable(text[:40]) + ("..." if len(text) > 40 else "")
        raise InvalidInput(
            field,
            f"{shown!r} is not an id: ids are positive integers written with the digits 0-9 only.",
            "pass a number, e.g. 12.",
        )
    significant = text.lstrip("0")
    if not significant or len(significant) > len(str(maximum)) or int(significant) > maximum:
        shown = significant[:20] + ("..." if len(significant) > 20 else "") if significant else "0"
        raise InvalidInput(field, f"{shown} is out of range: ids run from 1 to {maximum}.", "pass an existing id.")
    return int(significant)
