"""Paths a caller gives: file paths recorded by complete_task, and the directory of a project.

File paths (:func:`check_file_path`) are taken literally, so a name that only means something
once decoded is refused rather than guessed at: percent-encoded dots, slashes, backslashes, NUL
and percent signs (``%2e%2e%2f``, ``%252e``), and characters that read as a slash or a dot
(U+FF0F FULLWIDTH SOLIDUS, U+2215 DIVISION SLASH, U+FF0E FULLWIDTH FULL STOP...). Bounds: at most
:data:`MAX_FILE_PATHS` paths per call, :data:`MAX_PATH_CHARS` characters per path (Linux's
PATH_MAX is 4096 bytes; a project file needs far less), :data:`MAX_NAME_BYTES` bytes per name
between slashes (NAME_MAX of every common file system), :data:`MAX_TOTAL_PATH_CHARS` characters
in all.

Project roots (:func:`refuse_system_root`) are never ``/``, a system directory (``/etc``,
``/usr``, ``/var``...), anything under the kernel's pseudo file systems (``/proc``, ``/sys``,
``/dev``), nor the home directory itself; a project inside the home directory is fine.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from taskorch.domain.text import control_problem, describe_character
from taskorch.errors import InvalidInput

__all__ = [
    "MAX_FILE_PATHS",
    "MAX_NAME_BYTES",
    "MAX_PATH_CHARS",
    "MAX_TOTAL_PATH_CHARS",
    "check_file_path",
    "check_file_paths",
    "refuse_system_root",
]

MAX_FILE_PATHS = 500
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
MAX_TOTAL_PATH_CHARS = 65536

#: Percent-encodings of ".", "/", "\\", NUL and "%" itself (double encoding).
_ENCODED = re.compile(r"%(?:2e|2f|5c|00|25)", re.IGNORECASE)
#: Characters that read as a path separator or a dot, or become one under Unicode normalisation.
_LOOKALIKES = frozenset("\u2215\u2044\u29f8\uff0f\uff3c\uff0e\u2024\ufe52\u2025\u2026\ufe68")

#: Directories that are never a project root themselves.
SYSTEM_DIRECTORIES = ("/", "/bin", "/boot", "/etc", "/home", "/lib", "/lib32", "/lib64", "/sbin", "/usr", "/var")
#: Trees no project lives in: the kernel's pseudo file systems.
SYSTEM_TREES = ("/proc", "/sys", "/dev")

_PATH_FIX = "give the path as it is on disk, relative to the project root, e.g. src/app.py."


def check_file_path(field: str, raw: str) -> None:
    """Refuse a file path that is empty, too long, holds a control character or hides traversal
    behind an encoding. Raises :class:`InvalidInput` naming ``field``."""
    if not raw.strip():
        raise InvalidInput(field, "is empty.", "give a path inside the project.")
    problem = control_problem(raw, multiline=False)
    if problem is not None:
        raise InvalidInput(field, problem[0], "remove it: " + _PATH_FIX)
    if len(raw) > MAX_PATH_CHARS:
        raise InvalidInput(field, f"is {len(raw)} characters long; at most {MAX_PATH_CHARS}.", _PATH_FIX)
    for name in re.split(r"[/\\]", raw):
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_NAME_BYTES:
            raise InvalidInput(
                field,
                f"has a name of {size} bytes between slashes; no file system takes over {MAX_NAME_BYTES}.",
                _PATH_FIX,
            )
    encoded = _ENCODED.search(raw)
    if encoded is not None:
        decoded = bytes.fromhex(encoded.group()[1:]).decode("ascii")
        raise InvalidInput(
            field,
            f"contains {encoded.group()!r}, the percent-encoding of {decoded!r}: paths are taken literally, "
            "never decoded.",
            _PATH_FIX,
        )
    for char in raw:
        if char in _LOOKALIKES or (
            not char.isascii() and any(c in "./\\" for c in unicodedata.normalize("NFKC", char))
        ):
            name = unicodedata.name(char, "")
            raise InvalidInput(
                field,
                f"contains {describe_character(char)}{f' ({name})' if name else ''}, which reads as a slash or a dot.",
                _PATH_FIX,
            )


def check_file_paths(file_paths: Sequence[str]) -> None:
    """:func:`check_file_path` on each (``file_paths[2]``), within the count and total bounds."""
    if len(file_paths) > MAX_FILE_PATHS:
        raise InvalidInput(
            "file_paths", f"{len(file_paths)} paths; at most {MAX_FILE_PATHS}.", "record the files that matter most."
        )
    total = 0
    for index, raw in enumerate(file_paths):
        field = f"file_paths[{index}]"
        if not isinstance(raw, str):
            raise InvalidInput(field, "is not a string.", _PATH_FIX)
        check_file_path(field, raw)
        total += len(raw)
        if total > MAX_TOTAL_PATH_CHARS:
            raise InvalidInput(
                "file_paths", f"more than {MAX_TOTAL_PATH_CHARS} characters in all.", "record fewer paths."
            )


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, OSError):  # no HOME and no password entry
        return None


def _forms(paths: Sequence[str]) -> set[Path]:
    """Each path as written and as resolved (``/etc`` is ``/private/etc`` on macOS)."""
    out = set()
    for path in paths:
        out.add(Path(path))
        with contextlib.suppress(OSError):
            out.add(Path(path).resolve())
    return out


def refuse_system_root(given: Path, root: Path) -> None:
    """Refuse ``root`` (the resolved project root found from the absolute path ``given``) when it
    is ``/``, a system directory or the home directory, or when either path lies in ``/proc``,
    ``/sys`` or ``/dev``. Raises :class:`InvalidInput` on ``working_directory``."""
    lexical = Path(os.path.normpath(given))
    trees = _forms(SYSTEM_TREES)
    for path in (lexical, root):
        for tree in trees:
            if path == tree or path.is_relative_to(tree):
                raise InvalidInput(
                    "working_directory",
                    f"{str(given)!r} lies in {tree}, a kernel file system, not a project.",
                    "pass the absolute path of your project's directory.",
                )
    if root in _forms(SYSTEM_DIRECTORIES):
        shown = f"{str(given)!r} leads to the project root {str(root)!r}" if Path(given) != root else repr(str(root))
        raise InvalidInput(
            "working_directory",
            f"{shown}, a system directory; a session there would cover the whole system.",
            "pass the directory of your project (a Git repository), e.g. ~/code/shop.",
        )
    home = _home()
    if home is not None and root == home:
        shown = f"{str(given)!r} leads to the project root {str(root)!r}" if Path(given) != root else repr(str(root))
        raise InvalidInput(
            "working_directory",
            f"{shown}, your home directory itself; a session there would cover every project in it.",
            "pass a project directory inside it (with `git init` there if it has no repository), e.g. ~/code/shop.",
        )
