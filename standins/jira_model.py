"""The parts of the Jira Cloud stand-in that are not HTTP: workflows, Atlassian Document Format
checks, durations, timestamps and the JQL subset.

* Workflows follow Jira's workflow model (statuses in the categories ``new``, ``indeterminate``
  and ``done``; transitions from listed statuses or global "from any status"):
  https://support.atlassian.com/jira-cloud-administration/docs/work-with-issue-workflows/
* Atlassian Document Format (node and mark types):
  https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
* JQL dates (minute precision, read in the user's time zone, the accepted formats):
  https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Updated
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "CATEGORIES",
    "JqlError",
    "JqlQuery",
    "Status",
    "Transition",
    "Workflow",
    "adf_paragraphs",
    "adf_problem",
    "adf_text",
    "format_duration",
    "jira_time",
    "jql_moment",
    "parse_duration",
    "parse_jira_time",
    "parse_jql",
    "sort_issues",
]

Json = dict[str, Any]
Category = Literal["new", "indeterminate", "done"]

#: Jira's status categories: key -> (id, name, colorName).
CATEGORIES: dict[str, tuple[int, str, str]] = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}


# -- workflows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """A workflow status: its name, id (a string of digits, as Jira's) and category key."""

    name: str
    id: str
    category: Category


@dataclass(frozen=True)
class Transition:
    """A workflow transition. ``sources`` are the status names it leaves from; empty means a
    global transition (available from every status except its own target)."""

    id: str
    name: str
    to: str
    sources: tuple[str, ...] = ()

    @property
    def is_global(self) -> bool:
        return not self.sources


@dataclass(frozen=True)
class Workflow:
    """A project's workflow: its statuses (the first is where new issues start) and transitions."""

    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]

    def __post_init__(self) -> None:
        names = {s.name for s in self.statuses}
        for transition in self.transitions:
            unknown = {transition.to, *transition.sources} - names
            if unknown:
                raise ValueError(f"transition {transition.name!r} names unknown statuses {sorted(unknown)}")

    @property
    def initial(self) -> Status:
        return self.statuses[0]

    def status(self, name: str) -> Status:
        """The status called ``name`` (case-insensitive). Raises ``KeyError``."""
        for status in self.statuses:
            if status.name.casefold() == name.casefold():
                return status
        raise KeyError(name)

    def available(self, current: str) -> list[Transition]:
        """The transitions a person sees on an issue in status ``current``."""
        return [
            t
            for t in self.transitions
            if (t.is_global and t.to != current) or (not t.is_global and current in t.sources)
        ]

    def path(self, current: str, target: str) -> list[Transition] | None:
        """The shortest list of transitions from ``current`` to ``target`` (empty when already
        there), or ``None`` when the workflow has no path."""
        if current == target:
            return []
        queue: deque[tuple[str, list[Transition]]] = deque([(current, [])])
        seen = {current}
        while queue:
            name, steps = queue.popleft()
            for transition in self.available(name):
                if transition.to in seen:
                    continue
                route = [*steps, transition]
                if transition.to == target:
                    return route
                seen.add(transition.to)
                queue.append((transition.to, route))
        return None

    @classmethod
    def simplified(cls) -> Workflow:
        """Jira Software's simplified workflow: To Do, In Progress, Done, each reachable from
        every other status through a global transition named after it (ids 11, 21, 31)."""
        return cls(
            statuses=(
                Status("To Do", "10000", "new"),
                Status("In Progress", "3", "indeterminate"),
                Status("Done", "10001", "done"),
            ),
            transitions=(
                Transition("11", "To Do", "To Do"),
                Transition("21", "In Progress", "In Progress"),
                Transition("31", "Done", "Done"),
            ),
        )

    @classmethod
    def with_blocked(cls) -> Workflow:
        """A company-managed workflow with a "Blocked" status and directed transitions only:

        To Do -> In Progress ("Start progress", 11); In Progress -> Blocked ("Block", 21);
        Blocked -> In Progress ("Unblock", 31); In Progress -> In Review ("Request review", 41);
        In Review -> In Progress ("Request changes", 51); In Review -> Done ("Approve", 61);
        Done -> To Do ("Reopen", 71); To Do -> Done ("Won't do", 81, for closing unplanned work).

        There is no direct step from To Do or Blocked to In Review, nor from Blocked to Done: an
        adapter must walk the path (Blocked -> In Progress -> In Review -> Done)."""
        return cls(
            statuses=(
                Status("To Do", "10000", "new"),
                Status("In Progress", "3", "indeterminate"),
                Status("Blocked", "10002", "indeterminate"),
                Status("In Review", "10003", "indeterminate"),
                Status("Done", "10001", "done"),
            ),
            transitions=(
                Transition("11", "Start progress", "In Progress", ("To Do",)),
                Transition("21", "Block", "Blocked", ("In Progress",)),
                Transition("31", "Unblock", "In Progress", ("Blocked",)),
                Transition("41", "Request review", "In Review", ("In Progress",)),
                Transition("51", "Request changes", "In Progress", ("In Review",)),
                Transition("61", "Approve", "Done", ("In Review",)),
                Transition("71", "Reopen", "To Do", ("Done",)),
                Transition("81", "Won't do", "Done", ("To Do",)),
            ),
        )

    @classmethod
    def without_path(cls) -> Workflow:
        """A workflow where some statuses cannot reach others at all: To Do -> In Progress
        ("Start", 11) -> Done ("Finish", 21); Done is final (no transition leaves it), and
        "Archived" (category done) has no transition into it. From Done nothing is reachable;
        from anywhere, Archived is unreachable."""
        return cls(
            statuses=(
                Status("To Do", "10000", "new"),
                Status("In Progress", "3", "indeterminate"),
                Status("Done", "10001", "done"),
                Status("Archived", "10004", "done"),
            ),
            transitions=(
                Transition("11", "Start", "In Progress", ("To Do",)),
                Transition("21", "Finish", "Done", ("In Progress",)),
            ),
        )


# -- time --------------------------------------------------------------------------------------


def jira_time(moment: datetime, zone: str) -> str:
    """Jira's timestamp form, in ``zone``: ``2025-01-06T10:00:00.000+0100``."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def parse_jira_time(value: str) -> datetime:
    """A timestamp as Jira writes it (``...T10:00:00.000+0100``) or any ISO 8601 form with an
    offset. Raises ``ValueError``."""
    text = value.strip()
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return moment


#: Jira's default time tracking: a day is 8 hours, a week 5 days.
_DURATION_UNITS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm])")


def parse_duration(text: str) -> int:
    """Jira's duration (``"1w 2d 3h 30m"``; a day is 8 h, a week 5 days; a bare number means
    minutes) -> seconds. Raises ``ValueError``."""
    compact = text.strip().lower()
    if re.fullmatch(r"\d+", compact):
        return int(compact) * 60
    if not compact or _DURATION_RE.sub("", compact).strip():
        raise ValueError(f"{text!r} is not a duration")
    return int(sum(float(amount) * _DURATION_UNITS[unit] for amount, unit in _DURATION_RE.findall(compact)))


def format_duration(seconds: int) -> str:
    """Seconds as Jira writes a duration: ``"1w 2d 3h 30m"`` (``"0m"`` for zero)."""
    parts = []
    left = max(0, seconds)
    for unit in ("w", "d", "h", "m"):
        amount, left = divmod(left, _DURATION_UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0m"


# -- Atlassian Document Format -----------------------------------------------------------------

_BLOCK_CHILDREN: dict[str, frozenset[str] | None] = {
    # node type -> allowed child types (None: no content)
    "paragraph": frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}),
    "heading": frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}),
    "codeBlock": frozenset({"text"}),
    "blockquote": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaGroup", "mediaSingle"}),
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "listItem": frozenset(
        {"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle", "taskList", "heading"}
    ),
    "taskList": frozenset({"taskItem", "taskList"}),
    "taskItem": frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}),
    "decisionList": frozenset({"decisionItem"}),
    "decisionItem": frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}),
    "panel": frozenset({"paragraph", "bulletList", "orderedList", "heading", "codeBlock", "mediaGroup", "mediaSingle"}),
    "rule": None,
    "table": frozenset({"tableRow"}),
    "tableRow": frozenset({"tableHeader", "tableCell"}),
    "tableHeader": None,  # checked as a block container below
    "tableCell": None,
    "expand": None,
    "nestedExpand": None,
    "mediaSingle": frozenset({"media", "caption"}),
    "mediaGroup": frozenset({"media"}),
    "blockCard": None,
    "embedCard": None,
}
_CELL_LIKE = frozenset({"tableHeader", "tableCell", "expand", "nestedExpand"})
_TOP_LEVEL = frozenset(
    {
        "paragraph",
        "heading",
        "codeBlock",
        "blockquote",
        "bulletList",
        "orderedList",
        "taskList",
        "decisionList",
        "panel",
        "rule",
        "table",
        "expand",
        "mediaSingle",
        "mediaGroup",
        "blockCard",
        "embedCard",
    }
)
_INLINE_LEAVES = frozenset({"hardBreak", "mention", "emoji", "inlineCard", "date", "status", "media", "caption"})
_MARKS = frozenset(
    {"strong", "em", "code", "link", "strike", "underline", "textColor", "subsup", "backgroundColor", "alignment"}
)
_NODE_KEYS = frozenset({"type", "content", "attrs", "marks", "text"})


def adf_problem(document: Any) -> str | None:
    """``None`` when ``document`` is an Atlassian Document Format document Jira would accept
    (``{"type": "doc", "version": 1, "content": [...]}`` with known node and mark types, nested
    as the format allows); otherwise what is wrong with it."""
    if not isinstance(document, Mapping):
        return "the document is not an object"
    if document.get("type") != "doc":
        return "the root node's type is not 'doc'"
    if document.get("version") != 1:
        return "the document's version is not 1"
    if set(document) - {"type", "version", "content"}:
        return f"unknown keys on the root: {sorted(set(document) - {'type', 'version', 'content'})}"
    content = document.get("content")
    if not isinstance(content, list):
        return "the document has no content list"
    for index, node in enumerate(content):
        problem = _node_problem(node, _TOP_LEVEL, f"content[{index}]")
        if problem:
            return problem
    return None


def _node_problem(node: Any, allowed: frozenset[str], where: str) -> str | None:
    if not isinstance(node, Mapping):
        return f"{where} is not a node object"
    kind = node.get("type")
    if not isinstance(kind, str):
        return f"{where} has no type"
    if kind not in allowed:
        return f"{where}: a {kind!r} node is not allowed here"
    extra = set(node) - _NODE_KEYS
    if extra:
        return f"{where}: unknown keys {sorted(extra)}"
    if kind == "text":
        text = node.get("text")
        if not isinstance(text, str) or not text:
            return f"{where}: a text node needs non-empty text"
        marks = node.get("marks", [])
        if not isinstance(marks, list):
            return f"{where}: marks is not a list"
        for mark in marks:
            if not isinstance(mark, Mapping) or mark.get("type") not in _MARKS:
                return f"{where}: unknown mark {mark!r}"
            if mark.get("type") == "link" and not isinstance((mark.get("attrs") or {}).get("href"), str):
                return f"{where}: a link mark needs attrs.href"
        return None
    if "text" in node:
        return f"{where}: only text nodes have text"
    if kind == "heading":
        level = (node.get("attrs") or {}).get("level")
        if level not in range(1, 7):
            return f"{where}: a heading needs attrs.level 1 to 6"
    if kind in _INLINE_LEAVES:
        return None if "content" not in node else f"{where}: a {kind!r} node has no content"
    children = _BLOCK_CHILDREN.get(kind)
    if kind in _CELL_LIKE:
        children = _TOP_LEVEL - {"table"} if kind != "expand" else _TOP_LEVEL - {"expand"}
    content = node.get("content", [])
    if children is None:
        return None if not content else f"{where}: a {kind!r} node has no content"
    if not isinstance(content, list):
        return f"{where}: content is not a list"
    if kind in {"bulletList", "orderedList", "listItem", "table", "tableRow"} and not content:
        return f"{where}: a {kind!r} node needs content"
    for index, child in enumerate(content):
        problem = _node_problem(
            child, children | ({"text"} if "text" in children else frozenset()), f"{where}.content[{index}]"
        )
        if problem:
            return problem
    return None


def adf_paragraphs(text: str) -> Json:
    """Plain text as an ADF document: one paragraph per blank-line-separated block."""
    blocks = [block for block in re.split(r"\n\s*\n", text) if block.strip()]
    content: list[Json] = []
    for block in blocks:
        inline: list[Json] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def adf_text(document: Any) -> str:
    """The plain text of an ADF document (blocks separated by blank lines)."""
    if not isinstance(document, Mapping):
        return ""
    if document.get("type") == "text":
        return str(document.get("text", ""))
    if document.get("type") == "hardBreak":
        return "\n"
    parts = [adf_text(child) for child in document.get("content", []) or []]
    joiner = "\n\n" if document.get("type") in {"doc", "blockquote", "listItem", "panel"} else ""
    if document.get("type") in {"bulletList", "orderedList", "tableRow", "table"}:
        joiner = "\n"
    return joiner.join(parts)


# -- JQL ---------------------------------------------------------------------------------------


class JqlError(ValueError):
    """A JQL query outside the supported subset or invalid; ``messages`` are Jira's
    ``errorMessages``."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>>=|<=|!=|!~|=|>|<|~|\(|\)|,)
      | (?P<word>[A-Za-z0-9_\-./:+*]+)
    )""",
    re.VERBOSE,
)
_DATE_FIELDS = frozenset({"updated", "created", "updateddate", "createddate", "resolved", "resolutiondate"})
_KNOWN_FIELDS = frozenset(
    {
        "project",
        "key",
        "issuekey",
        "id",
        "status",
        "parent",
        "labels",
        "assignee",
        "statuscategory",
        "fixversion",
        "sprint",
        "type",
        "issuetype",
        *_DATE_FIELDS,
    }
)
_SUPPORTED = frozenset({"project", "key", "issuekey", "id", "status", "parent", "labels", *_DATE_FIELDS})
_SORTABLE = frozenset({"updated", "created", "key", "issuekey", "id", "rank"})
_PERIOD_RE = re.compile(r"([-+]?)((?:\d+\s*[wdhm]\s*)+)")
_PERIOD_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


@dataclass
class _Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class _Clause:
    field: str
    op: str
    values: list[str]


@dataclass
class JqlQuery:
    """A parsed query of the supported subset: clauses joined by ``AND`` and an ``ORDER BY``.

    ``matches(issue)`` tests one issue given a lookup of its field values (see
    :meth:`FakeJira`'s use); ``order`` is ``[(field, descending)]``."""

    clauses: list[_Clause] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    bounded: bool = False

    def matches(self, value_of: Callable[[str], Any], now: datetime, zone: str) -> bool:
        return all(_clause_matches(clause, value_of, now, zone) for clause in self.clauses)


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN_RE.match(stripped, position)
        if match is None or match.end() == position:
            bad = stripped[position:].strip()[:1]
            raise JqlError(
                f"Error in the JQL Query: The character '{bad}' is a reserved JQL character. You must enclose "
                f"it in a string or use the escape '\\u{ord(bad or ' '):04x}' instead. "
                f"(line 1, character {position + 1})"
            )
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.append(_Token(kind, value))
        position = match.end()
    return found


def parse_jql(text: str) -> JqlQuery:
    """Parse ``text`` in the subset: ``field op value`` clauses joined by ``AND`` — ``project``
    (``=``, ``in``), ``key``/``issuekey``/``id`` (``=``, ``in``), ``status`` (``=``, ``!=``, ``in``),
    ``parent`` (``=``), ``labels`` (``=``), ``updated``/``created``/``resolved`` (``=``, ``>``,
    ``>=``, ``<``, ``<=`` with ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd"``,
    ``"yyyy/MM/dd"`` or a period such as ``"-5m"``) — and ``ORDER BY`` ``updated``, ``created``,
    ``key``, ``id`` or ``rank`` with ``ASC``/``DESC``. Anything else raises :class:`JqlError`
    with Jira's wording."""
    tokens = _tokens(text)
    query = JqlQuery()
    position = 0

    def peek(offset: int = 0) -> _Token | None:
        index = position + offset
        return tokens[index] if index < len(tokens) else None

    def unsupported(what: str) -> JqlError:
        return JqlError(f"Error in the JQL Query: {what} is not supported by this Jira stand-in's JQL subset.")

    while position < len(tokens):
        token = tokens[position]
        if token.kind == "word" and token.upper == "ORDER":
            break
        if query.clauses:
            if token.kind == "word" and token.upper == "AND":
                position += 1
                token = tokens[position] if position < len(tokens) else _Token("end", "")
            elif token.kind == "word" and token.upper == "OR":
                raise unsupported("'OR'")
            else:
                raise JqlError(
                    f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{token.text}'. "
                    f"(line 1, character {text.find(token.text) + 1})"
                )
        if token.kind == "op" and token.text == "(":
            raise unsupported("A parenthesised sub-query")
        if token.kind not in {"word", "string"}:
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{token.text}'.")
        name = token.text.casefold()
        if name in {"not"}:
            raise unsupported("'NOT'")
        if name not in _KNOWN_FIELDS and not name.startswith("cf["):
            raise JqlError(f"Field '{token.text}' does not exist or you do not have permission to view it.")
        if name not in _SUPPORTED:
            raise unsupported(f"The field '{token.text}'")
        position += 1
        op_token = peek()
        if op_token is None:
            raise JqlError("Error in the JQL Query: Expecting operator but got the end of the query.")
        if op_token.kind == "word" and op_token.upper in {"IN", "NOT", "IS", "WAS", "CHANGED"}:
            if op_token.upper != "IN":
                raise unsupported(f"The operator '{op_token.text}'")
            op = "in"
        elif op_token.kind == "op" and op_token.text in {"=", "!=", ">", ">=", "<", "<="}:
            op = op_token.text
        else:
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op_token.text}'.")
        position += 1
        values: list[str] = []
        if op == "in":
            opening = peek()
            if opening is None or opening.text != "(":
                raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
            position += 1
            while True:
                item = peek()
                if item is None or item.kind not in {"word", "string"}:
                    raise JqlError("Error in the JQL Query: Expecting a value in the list.")
                values.append(item.text)
                position += 1
                after = peek()
                if after is not None and after.text == ",":
                    position += 1
                    continue
                if after is not None and after.text == ")":
                    position += 1
                    break
                raise JqlError("Error in the JQL Query: Expecting ',' or ')' in the list.")
        else:
            item = peek()
            if item is None or item.kind not in {"word", "string"}:
                raise JqlError("Error in the JQL Query: Expecting either a value, list or function but got the end.")
            values.append(item.text)
            position += 1
        _check_clause(name, op, values, unsupported)
        if name in {"project", "key", "issuekey", "id", "parent"} and op in {"=", "in"}:
            query.bounded = True
        if name in _DATE_FIELDS:
            query.bounded = True
        query.clauses.append(_Clause(name, op, values))
    if position < len(tokens):
        by = peek(1)
        if by is None or by.upper != "BY":
            raise JqlError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
        position += 2
        while position < len(tokens):
            item = tokens[position]
            name = item.text.casefold()
            if name not in _SORTABLE:
                if name in _KNOWN_FIELDS:
                    raise unsupported(f"Ordering by '{item.text}'")
                raise JqlError(f"Not able to sort using field '{item.text}'.")
            position += 1
            descending = False
            direction = peek()
            if direction is not None and direction.upper in {"ASC", "DESC"}:
                descending = direction.upper == "DESC"
                position += 1
            query.order.append(("key" if name == "issuekey" else name, descending))
            separator = peek()
            if separator is None:
                break
            if separator.text != ",":
                raise JqlError(f"Error in the JQL Query: Expecting ',' but got '{separator.text}'.")
            position += 1
    return query


def _check_clause(name: str, op: str, values: list[str], unsupported: Callable[[str], JqlError]) -> None:
    if name in _DATE_FIELDS:
        if op in {"in", "!="}:
            raise unsupported(f"The operator '{op}' on '{name}'")
        jql_moment(values[0], name, datetime.now(UTC), "UTC")  # refuses a malformed date now
        return
    if name in {"project", "key", "issuekey", "id"} and op not in {"=", "in"}:
        raise unsupported(f"The operator '{op}' on '{name}'")
    if name == "status" and op not in {"=", "!=", "in"}:
        raise unsupported(f"The operator '{op}' on 'status'")
    if name in {"parent", "labels"} and op != "=":
        raise unsupported(f"The operator '{op}' on '{name}'")


def jql_moment(value: str, field_name: str, now: datetime, zone: str) -> datetime:
    """A JQL date value as an instant: absolute forms are read in ``zone`` (minute precision);
    a period (``-5m``, ``"-1w 2d"``) is relative to ``now``. Raises :class:`JqlError`."""
    text = value.strip()
    for pattern in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=ZoneInfo(zone))
        except ValueError:
            continue
    period = _PERIOD_RE.fullmatch(text)
    if period:
        seconds = sum(
            int(amount) * _PERIOD_UNITS[unit] for amount, unit in re.findall(r"(\d+)\s*([wdhm])", period.group(2))
        )
        return now + timedelta(seconds=-seconds if period.group(1) == "-" else seconds)
    raise JqlError(
        f"Date value '{value}' for field '{field_name}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def _clause_matches(clause: _Clause, value_of: Callable[[str], Any], now: datetime, zone: str) -> bool:
    name = clause.field
    if name in _DATE_FIELDS:
        canonical = {"updateddate": "updated", "createddate": "created", "resolved": "resolutiondate"}.get(name, name)
        actual = value_of(canonical)
        if actual is None:
            return False
        bound = jql_moment(clause.values[0], name, now, zone)
        outcome: bool = {
            "=": actual == bound,
            ">": actual > bound,
            ">=": actual >= bound,
            "<": actual < bound,
            "<=": actual <= bound,
        }[clause.op]
        return outcome
    if name in {"key", "issuekey"}:
        return str(value_of("key")).casefold() in {v.casefold() for v in clause.values}
    if name == "id":
        return str(value_of("id")) in clause.values
    if name == "project":
        project = value_of("project")
        return bool({v.casefold() for v in clause.values} & {str(p).casefold() for p in project})
    if name == "status":
        hit = str(value_of("status")).casefold() in {v.casefold() for v in clause.values}
        return not hit if clause.op == "!=" else hit
    if name == "parent":
        parent = value_of("parent")
        return parent is not None and clause.values[0].casefold() in {str(p).casefold() for p in parent}
    if name == "labels":
        return clause.values[0] in value_of("labels")
    return False


def sort_issues(
    issues: Sequence[Json], order: Sequence[tuple[str, bool]], value_of: Callable[[Json, str], Any]
) -> list[Json]:
    """``issues`` sorted by ``order`` (``[(field, descending)]``; stable, last key first)."""
    result = list(issues)
    for name, descending in reversed(order or [("key", True)]):
        result.sort(key=lambda issue: value_of(issue, name), reverse=descending)
    return result
