"""The specialist role library and the rule-based router.

A role is a Markdown file with TOML front matter between ``+++`` lines::

    +++
    name = "tester"                      # equals the file stem; ^[a-z][a-z0-9_-]{0,63}$
    title = "Test Engineer"
    summary = "One line."
    task_types = ["testing"]             # TaskType values this role naturally owns
    keywords = ["pytest", "coverage"]    # words that point to the role in a title/description
    +++

    Instructions for the assistant taking the role (Markdown).

The built-in roles ship as package data in ``roles/``. A project adds or overrides roles with
files in ``<project root>/.taskorch/roles/*.md``: a file whose name matches a built-in replaces
it, any other name adds a role.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from taskorch.config import project_roles_dir
from taskorch.domain.model import Complexity, TaskType
from taskorch.errors import InvalidInput

__all__ = ["BUILTIN_ROLE_NAMES", "Role", "RoleLibrary", "parse_role", "route"]

#: The built-in roles, in the order the router uses to break ties (after ``implementer``).
BUILTIN_ROLE_NAMES: tuple[str, ...] = (
    "architect",
    "implementer",
    "tester",
    "reviewer",
    "documenter",
    "researcher",
    "debugger",
    "devops",
    "analyst",
    "coordinator",
    "security",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_FENCE = "+++"
_KEYS: tuple[str, ...] = ("name", "title", "summary", "task_types", "keywords")
_TOML_LOCATION_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TASK_TYPE_VALUES: tuple[str, ...] = tuple(t.value for t in TaskType)
_COMPLEXITY_VALUES: tuple[str, ...] = tuple(c.value for c in Complexity)

_TASK_TYPE_WEIGHT = 3
_TITLE_WEIGHT = 2
_DESCRIPTION_WEIGHT = 1
_COMPLEX = frozenset({Complexity.COMPLEX.value, Complexity.VERY_COMPLEX.value})
_DESIGN_FIRST_ROLE = "architect"
_DEFAULT_ROLE = "implementer"
#: Routes a role library remembers (by title, description, task type and complexity) before it
#: starts afresh.
_ROUTES_KEPT = 4096


@dataclass(frozen=True)
class Role:
    """One specialist role.

    ``instructions`` is the Markdown body, stripped. ``task_types`` holds :class:`TaskType`
    values; ``keywords`` holds lowercase words, without duplicates. ``source`` is ``"builtin"``
    for a packaged role, otherwise the path of the file it was read from.
    """

    name: str
    title: str
    summary: str
    instructions: str
    task_types: tuple[str, ...]
    keywords: tuple[str, ...]
    source: str


def parse_role(text: str, *, origin: str, stem: str, source: str) -> Role:
    """Parse the text of one role file into a :class:`Role`.

    ``origin`` names the file in error messages, ``stem`` is the file name without ``.md`` (the
    role's ``name`` must equal it) and ``source`` becomes :attr:`Role.source`.

    Raises :class:`InvalidInput` with ``field=origin`` when the front matter is missing or not
    closed, is not valid TOML (the message gives the line in the file), lacks a key, has an
    unknown key or a value of the wrong type, names an unknown task type, or when ``name``
    does not match the file stem or ``^[a-z][a-z0-9_-]{0,63}$``, or the body is empty.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != _FENCE:
        raise InvalidInput(
            origin,
            "missing front matter: the file must start with a '+++' line.",
            "begin the file with '+++', the TOML keys (name, title, summary, task_types, keywords), "
            "then a closing '+++' line and the instructions.",
        )
    closing = next((i for i in range(1, len(lines)) if lines[i].strip() == _FENCE), None)
    if closing is None:
        raise InvalidInput(
            origin,
            "the front matter opened with '+++' on line 1 is never closed.",
            "add a line containing only '+++' after the TOML keys.",
        )
    try:
        data = tomllib.loads("\n".join(lines[1:closing]))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            origin, f"invalid TOML in the front matter: {_toml_error(exc)}.", "correct the TOML syntax."
        ) from None

    missing = [key for key in _KEYS if key not in data]
    if missing:
        raise InvalidInput(
            origin,
            f"the front matter lacks key(s): {', '.join(missing)}.",
            "add every key: " + ", ".join(_KEYS) + ".",
        )
    unknown = sorted(key for key in data if key not in _KEYS)
    if unknown:
        raise InvalidInput(
            origin,
            f"the front matter has unknown key(s): {', '.join(unknown)}.",
            "use only: " + ", ".join(_KEYS) + ".",
        )

    name = _string(data, "name", origin)
    if name != stem:
        raise InvalidInput(
            origin,
            f"name {name!r} does not match the file name {stem!r}.",
            f"set name = {stem!r} or rename the file to '{name}.md'.",
        )
    if not _NAME_RE.match(name):
        raise InvalidInput(
            origin,
            f"name {name!r} is not a valid role name.",
            "use 1-64 characters: a lowercase letter first, then lowercase letters, digits, '_' or '-'.",
        )
    title = _string(data, "title", origin)
    summary = _string(data, "summary", origin)
    if "\n" in summary or "\r" in summary:
        raise InvalidInput(origin, "summary must be a single line.", "shorten summary to one line.")
    task_types = _string_list(data, "task_types", origin)
    bad_types = [t for t in task_types if t not in _TASK_TYPE_VALUES]
    if bad_types:
        raise InvalidInput(
            origin,
            f"task_types has unknown value(s): {', '.join(repr(t) for t in bad_types)}.",
            "use only: " + ", ".join(_TASK_TYPE_VALUES) + ".",
        )
    keywords = tuple(dict.fromkeys(k.strip().lower() for k in _string_list(data, "keywords", origin)))
    if any(not k for k in keywords):
        raise InvalidInput(origin, "keywords contains an empty string.", "remove the empty keyword.")

    instructions = "\n".join(lines[closing + 1 :]).strip()
    if not instructions:
        raise InvalidInput(
            origin,
            "the role has no instructions after the front matter.",
            "write the instructions for the role below the closing '+++' line.",
        )
    return Role(
        name=name,
        title=title,
        summary=summary,
        instructions=instructions,
        task_types=tuple(dict.fromkeys(task_types)),
        keywords=keywords,
        source=source,
    )


def _toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """The decoder's message with its line moved from front-matter-relative to file-relative."""
    message = str(exc)
    found = _TOML_LOCATION_RE.search(message)
    if found is None:
        return message
    line, column = int(found.group(1)) + 1, int(found.group(2))
    return f"{message[: found.start()]} at line {line}, column {column}"


def _string(data: Mapping[str, Any], key: str, origin: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise InvalidInput(origin, f"{key} must be a string, not {_toml_type(value)}.", f'write {key} = "...".')
    value = value.strip()
    if not value:
        raise InvalidInput(origin, f"{key} is empty.", f"give {key} a value.")
    return value


def _string_list(data: Mapping[str, Any], key: str, origin: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list):
        raise InvalidInput(
            origin,
            f"{key} must be an array of strings, not {_toml_type(value)}.",
            f'write {key} = ["...", "..."] (or [] for none).',
        )
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidInput(
                origin,
                f"{key}[{index}] must be a string, not {_toml_type(item)}.",
                f"quote every item of {key}.",
            )
    return list(value)


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")


@functools.cache
def _builtin_roles() -> tuple[Role, ...]:
    """The packaged roles, parsed once per process, in :data:`BUILTIN_ROLE_NAMES` order first."""
    folder = resources.files(__name__).joinpath("roles")
    found: list[Role] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".md") or not entry.is_file():
            continue
        found.append(
            parse_role(
                entry.read_text(encoding="utf-8"),
                origin=str(entry),
                stem=entry.name.removesuffix(".md"),
                source="builtin",
            )
        )
    return tuple(sorted(found, key=lambda r: _builtin_rank(r.name)))


def _builtin_rank(name: str) -> tuple[int, str]:
    try:
        return BUILTIN_ROLE_NAMES.index(name), name
    except ValueError:
        return len(BUILTIN_ROLE_NAMES), name


def _read_project_role(path: Path) -> Role:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(str(path), f"is not valid UTF-8 ({exc.reason}).", "save it as UTF-8.") from None
    except OSError as exc:
        raise InvalidInput(
            str(path), f"cannot be read ({exc.strerror or exc}).", "check that the file is readable."
        ) from None
    return parse_role(text, origin=str(path), stem=path.stem, source=str(path))


class RoleLibrary:
    """The roles available to one project: the built-ins plus the project's own files.

    Build it with :meth:`load`; the constructor takes ready :class:`Role` objects and raises
    :class:`ValueError` when given none or two with the same name.
    """

    def __init__(self, roles: Iterable[Role]) -> None:
        by_name: dict[str, Role] = {}
        for role in roles:
            if role.name in by_name:
                raise ValueError(f"duplicate role name {role.name!r}")
            by_name[role.name] = role
        if not by_name:
            raise ValueError("a role library needs at least one role")
        self._roles = by_name
        # Built on first use by route(): each role's compiled keyword patterns, and the routes
        # already decided (a library is immutable, so neither goes stale).
        self._matchers: dict[str, _Matcher] = {}
        self._routes: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def _matcher(self, name: str) -> _Matcher:
        matcher = self._matchers.get(name)
        if matcher is None:
            matcher = self._matchers[name] = _Matcher.of(self.get(name))
        return matcher

    @classmethod
    def load(cls, project_root: str | Path | None = None) -> RoleLibrary:
        """The built-in roles overlaid with ``<project_root>/.taskorch/roles/*.md``, if that exists.

        With ``project_root=None`` only the built-ins are loaded. A project file named like a
        built-in replaces it; any other name adds a role. Raises :class:`InvalidInput` with the
        file path as ``field`` when a project file is malformed (see :func:`parse_role`), cannot
        be read, or when the roles path exists but is not a directory.
        """
        roles = {role.name: role for role in _builtin_roles()}
        if project_root is not None:
            folder = project_roles_dir(project_root)
            if folder.exists() and not folder.is_dir():
                raise InvalidInput(str(folder), "is not a directory.", "make it a directory of <name>.md role files.")
            if folder.is_dir():
                for path in sorted(folder.glob("*.md")):
                    if path.is_file():
                        role = _read_project_role(path)
                        roles[role.name] = role
        return cls(roles.values())

    def get(self, name: str) -> Role:
        """The role called ``name``; raises :class:`InvalidInput` (field ``specialist_type``) if unknown."""
        role = self._roles.get(name)
        if role is None:
            raise InvalidInput(
                "specialist_type", f"unknown role {name!r}.", "use one of: " + ", ".join(self.names()) + "."
            )
        return role

    def names(self) -> list[str]:
        """Every role name, sorted."""
        return sorted(self._roles)

    def roles(self) -> list[Role]:
        """Every role, sorted by name."""
        return [self._roles[name] for name in self.names()]

    def preference(self) -> list[str]:
        """Role names in tie-break order: implementer, the other built-ins in
        :data:`BUILTIN_ROLE_NAMES` order, then the remaining roles alphabetically."""
        order = [_DEFAULT_ROLE, *(n for n in BUILTIN_ROLE_NAMES if n != _DEFAULT_ROLE)]
        known = [n for n in order if n in self._roles]
        return known + sorted(n for n in self._roles if n not in order)

    def __contains__(self, name: object) -> bool:
        return name in self._roles

    def __len__(self) -> int:
        return len(self._roles)

    def __iter__(self) -> Iterator[Role]:
        return iter(self.roles())

    def __repr__(self) -> str:
        return f"RoleLibrary({', '.join(self.names())})"


@functools.lru_cache(maxsize=1024)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of ``keyword`` or ``keyword`` + "s"."""
    return re.compile(rf"(?<![\w]){re.escape(keyword)}s?(?![\w])", re.IGNORECASE)


@dataclass(frozen=True)
class _Matcher:
    """One role's keywords as compiled patterns, with ``any_keyword`` matching where any of them
    would (one search rules out a text that mentions none of the role's keywords)."""

    role: Role
    #: (keyword, its lowercase form when it is ASCII else None, its pattern)
    patterns: tuple[tuple[str, str | None, re.Pattern[str]], ...]
    any_keyword: re.Pattern[str] | None

    @classmethod
    def of(cls, role: Role) -> _Matcher:
        patterns = tuple(
            (keyword, keyword.lower() if keyword.isascii() else None, _keyword_pattern(keyword))
            for keyword in role.keywords
        )
        any_keyword = None
        if role.keywords:
            alternatives = "|".join(re.escape(keyword) for keyword in role.keywords)
            any_keyword = re.compile(rf"(?<![\w])(?:{alternatives})s?(?![\w])", re.IGNORECASE)
        return cls(role, patterns, any_keyword)


class _Texts(NamedTuple):
    """A task's title and description, each with its lowercase form when it is ASCII (where a
    case-insensitive match implies the lowercase keyword is a substring of the lowercase text)."""

    title: str
    description: str
    title_folded: str | None
    description_folded: str | None

    @classmethod
    def of(cls, title: str, description: str) -> _Texts:
        return cls(
            title,
            description,
            title.lower() if title.isascii() else None,
            description.lower() if description.isascii() else None,
        )


@dataclass(frozen=True)
class _Score:
    name: str
    total: int
    task_type_match: bool
    keywords: tuple[str, ...]
    design_first: bool


def _score(matcher: _Matcher, *, texts: _Texts, task_type: str, design_first: bool) -> _Score:
    role = matcher.role
    hits: list[tuple[int, int, str]] = []  # (0 title / 1 description, position, keyword)
    total = 0
    title, description = texts.title, texts.description
    keywords = matcher.patterns
    any_keyword = matcher.any_keyword
    ascii_texts = texts.title_folded is not None and texts.description_folded is not None
    if any_keyword is None or (
        not ascii_texts and any_keyword.search(title) is None and any_keyword.search(description) is None
    ):
        keywords = ()
    for keyword, folded, pattern in keywords:
        # A keyword absent from an ASCII text (case folded) cannot match there: skip the search.
        in_title = (
            None
            if folded is not None and texts.title_folded is not None and folded not in texts.title_folded
            else pattern.search(title)
        )
        if in_title is not None:
            total += _TITLE_WEIGHT
            hits.append((0, in_title.start(), keyword))
            continue
        in_description = (
            None
            if folded is not None and texts.description_folded is not None and folded not in texts.description_folded
            else pattern.search(description)
        )
        if in_description is not None:
            total += _DESCRIPTION_WEIGHT
            hits.append((1, in_description.start(), keyword))
    matched_type = task_type in role.task_types
    if matched_type:
        total += _TASK_TYPE_WEIGHT
    if design_first:
        total += _TASK_TYPE_WEIGHT
    return _Score(role.name, total, matched_type, tuple(k for *_, k in sorted(hits)), design_first)


def route(library: RoleLibrary, *, title: str, description: str, task_type: str, complexity: str) -> tuple[str, str]:
    """Choose the role for a task: ``(role name, one-sentence reason)``. Deterministic.

    Each role scores +3 when ``task_type`` is one of its ``task_types`` and, per distinct keyword
    found as a whole word (case-insensitive, plural "s" allowed), +2 when it is in ``title`` or
    else +1 when it is in ``description``. A ``feature`` of complexity ``complex`` or
    ``very_complex`` gives ``architect`` (if present) +3 and the win on a tie, so a design comes
    first unless another role has a strictly stronger signal. Other ties go to the first role in
    :meth:`RoleLibrary.preference`. When no role scores, the result is ``implementer`` (or the
    first preferred role if there is none).

    Raises :class:`InvalidInput` when ``task_type`` or ``complexity`` is not a known value.
    """
    if task_type not in _TASK_TYPE_VALUES:
        raise InvalidInput(
            "task_type",
            f"unknown task type {task_type!r}.",
            "use one of: " + ", ".join(_TASK_TYPE_VALUES) + ".",
        )
    if complexity not in _COMPLEXITY_VALUES:
        raise InvalidInput(
            "complexity",
            f"unknown complexity {complexity!r}.",
            "use one of: " + ", ".join(_COMPLEXITY_VALUES) + ".",
        )
    task_type, complexity = str(task_type), str(complexity)
    key = (title, description, task_type, complexity)
    known = library._routes.get(key)
    if known is None:
        known = _route(library, title=title, description=description, task_type=task_type, complexity=complexity)
        if len(library._routes) >= _ROUTES_KEPT:
            library._routes.clear()
        library._routes[key] = known
    return known


def _route(library: RoleLibrary, *, title: str, description: str, task_type: str, complexity: str) -> tuple[str, str]:
    design_first = task_type == TaskType.FEATURE.value and complexity in _COMPLEX and _DESIGN_FIRST_ROLE in library
    preference = library.preference()
    texts = _Texts.of(title, description)
    if design_first:
        preference.remove(_DESIGN_FIRST_ROLE)
        preference.insert(0, _DESIGN_FIRST_ROLE)
    scores = [
        _score(
            library._matcher(name),
            texts=texts,
            task_type=task_type,
            design_first=design_first and name == _DESIGN_FIRST_ROLE,
        )
        for name in preference
    ]
    best = max(score.total for score in scores)
    if best == 0:
        default = _DEFAULT_ROLE if _DEFAULT_ROLE in library else preference[0]
        return default, f"no rule matched; defaulting to {default}"
    tied = [score for score in scores if score.total == best]
    winner = tied[0]
    return winner.name, _reason(winner, tied[1:], scores, task_type, complexity)


def _reason(winner: _Score, tied: list[_Score], scores: list[_Score], task_type: str, complexity: str) -> str:
    parts: list[str] = []
    if winner.design_first:
        over = f" over {', '.join(s.name for s in tied)}" if tied else ""
        parts.append(
            f"task_type '{task_type}' with complexity '{complexity}' needs a design first, "
            f"so {winner.name} is preferred{over}"
        )
        tied = []
    if winner.task_type_match:
        parts.append(f"task_type '{task_type}' maps to {winner.name}")
    if winner.keywords:
        matched = ", ".join(winner.keywords)
        if parts:
            parts.append(f"keywords matched: {matched}")
        else:
            parts.append(f"keywords point to {winner.name}: {matched}")
    if not winner.task_type_match and not winner.design_first:
        owners = [s.name for s in scores if s.task_type_match]
        if owners:
            parts.append(f"stronger than task_type '{task_type}' ({', '.join(owners)})")
    if tied:
        parts.append(f"tied with {', '.join(s.name for s in tied)}, broken by preference order")
    return "; ".join(parts)
