"""Markdown <-> Atlassian Document Format (ADF), the rich-text format of Jira Cloud's v3 API.

Jira Cloud takes and gives issue descriptions and comments as ADF documents
(``{"version": 1, "type": "doc", "content": [...]}``); taskorch writes and reads Markdown. This
module converts both ways, with no I/O:

* :func:`markdown_to_adf` parses CommonMark plus GFM tables and strikethrough (markdown-it-py) and
  builds the ADF nodes Atlassian documents: headings, paragraphs, ``strong`` / ``em`` / ``code`` /
  ``strike`` / ``link`` marks, nested bullet and ordered lists, task lists (``- [ ]`` /
  ``- [x]`` -> ``taskList`` / ``taskItem``), code blocks with their language (a Mermaid diagram is a
  ``codeBlock`` with language ``mermaid``), blockquotes, rules, tables and hard breaks. A line
  break inside a paragraph becomes a ``hardBreak`` (the issue shows the line as written, as
  GitHub shows it). Raw HTML is kept as text.
* :func:`adf_to_markdown` renders a document back. Nodes that Markdown has no form for and that
  people add in Jira's editor degrade to readable text instead of vanishing: a mention becomes
  ``@Name``, an emoji its character or ``:shortname:``, a status lozenge ``[STATUS]``, a date its
  ISO day, an inline or block card its URL, a panel or an expand a blockquote headed by its kind
  or title, media ``[attachment: name]``, a decision list a list of "Decision:" items, and any
  other node its text content (or ``[type]``).

``markdown_to_adf(adf_to_markdown(doc))`` keeps the structure of a document made of the nodes
above, and ``adf_to_markdown(markdown_to_adf(md))`` is a fixpoint after one normalisation (the
property the tests check with generated documents).

:func:`adf_problems` checks a document against the ADF rules this module relies on (no empty
text node, the children each node may have, the marks text may carry, ``code`` combined with
``link`` only, required attributes).

Atlassian's documentation followed:

* structure: https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/
* nodes: https://developer.atlassian.com/cloud/jira/platform/apis/document/nodes/paragraph/ (and the
  sibling pages ``heading``, ``bulletList``, ``orderedList``, ``listItem``, ``codeBlock``,
  ``blockquote``, ``rule``, ``table``, ``hardBreak``, ``text``, ``taskList``)
* marks: https://developer.atlassian.com/cloud/jira/platform/apis/document/marks/code/ (``code``
  may only be combined with ``link``)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

__all__ = ["adf_problems", "adf_to_markdown", "empty_document", "markdown_to_adf"]

Node = dict[str, Any]

_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_TASK = re.compile(r"^\[([ xX])\] ")

#: Block nodes a document, a list item, a blockquote or a table cell may hold (the subset built here).
_DOC_BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "bulletList",
        "orderedList",
        "codeBlock",
        "blockquote",
        "rule",
        "table",
        "taskList",
        "panel",
        "mediaSingle",
        "mediaGroup",
        "expand",
        "decisionList",
        "blockCard",
        "embedCard",
        "extension",
        "bodiedExtension",
    }
)
_INLINE = frozenset(
    {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "mediaInline", "placeholder"}
)
_ALLOWED_CHILDREN: Mapping[str, frozenset[str]] = {
    "doc": _DOC_BLOCKS,
    "paragraph": _INLINE,
    "heading": _INLINE,
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "listItem": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle", "taskList"}),
    "codeBlock": frozenset({"text"}),
    "blockquote": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle", "mediaGroup"}),
    "table": frozenset({"tableRow"}),
    "tableRow": frozenset({"tableHeader", "tableCell"}),
    "tableHeader": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "heading", "rule", "blockquote"}),
    "tableCell": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "heading", "rule", "blockquote"}),
    "taskList": frozenset({"taskItem", "taskList"}),
    "taskItem": _INLINE,
}
_TEXT_MARKS = frozenset({"strong", "em", "code", "strike", "link", "underline", "textColor", "subsup"})
_MARK_ORDER = ("link", "strong", "em", "strike", "code")


def empty_document() -> Node:
    """An ADF document with no content (Jira's empty description)."""
    return {"version": 1, "type": "doc", "content": []}


# ---------------------------------------------------------------------------------------------
# Markdown -> ADF
# ---------------------------------------------------------------------------------------------


def markdown_to_adf(markdown: str) -> Node:
    """A Markdown text -> an ADF document (``{"version": 1, "type": "doc", "content": [...]}``)."""
    tree = SyntaxTreeNode(_PARSER.parse(markdown))
    builder = _Builder()
    return {"version": 1, "type": "doc", "content": builder.blocks(tree.children, "doc")}


class _Builder:
    def __init__(self) -> None:
        self._ids = 0

    def _local_id(self) -> str:
        self._ids += 1
        return f"task-{self._ids}"

    def blocks(self, nodes: Sequence[SyntaxTreeNode], parent: str) -> list[Node]:
        out: list[Node] = []
        for node in nodes:
            out += self.block(node, parent)
        return out

    def block(self, node: SyntaxTreeNode, parent: str) -> list[Node]:
        kind = node.type
        if kind == "paragraph":
            return [_paragraph(self.inline(node))]
        if kind == "heading":
            content = self.inline(node)
            if parent in ("listItem", "blockquote"):  # no headings there: bold text instead
                return [_paragraph(_with_mark(content, {"type": "strong"}))]
            return [_drop_empty({"type": "heading", "attrs": {"level": int(node.tag[1:])}, "content": content})]
        if kind in ("fence", "code_block"):
            text = node.content.removesuffix("\n")
            code: Node = {"type": "codeBlock"}
            language = node.info.strip().split(" ")[0] if node.info else ""
            if language:
                code["attrs"] = {"language": language}
            if text:
                code["content"] = [{"type": "text", "text": text}]
            return [code]
        if kind == "hr":
            return [{"type": "rule"}] if parent in ("doc", "tableCell", "tableHeader") else []
        if kind == "blockquote":
            inner = self.blocks(node.children, "blockquote")
            if parent == "blockquote":  # no quote in a quote: its content joins the outer one
                return inner
            return [{"type": "blockquote", "content": inner or [_paragraph([])]}]
        if kind == "bullet_list":
            tasks = self.task_list(node) if parent != "blockquote" else None  # no task list in a quote
            if tasks is not None:
                return [tasks]
            return [{"type": "bulletList", "content": [self.list_item(item) for item in node.children]}]
        if kind == "ordered_list":
            start = int(str(node.attrs.get("start", 1)))
            ordered: Node = {"type": "orderedList", "content": [self.list_item(item) for item in node.children]}
            if start != 1:
                ordered["attrs"] = {"order": start}
            return [ordered]
        if kind == "table":
            if parent == "doc":
                return [self.table(node)]
            # No table in a list or a quote: a paragraph per row, its cells separated by " | ".
            rows = [row for section in node.children for row in section.children]
            return [_paragraph(_join_cells([self.inline(cell) for cell in row.children])) for row in rows]
        if kind == "html_block":
            text = node.content.strip("\n")
            return [_paragraph(_text_with_breaks(text, []))] if text else []
        return self.blocks(node.children, parent)

    def list_item(self, item: SyntaxTreeNode) -> Node:
        content = self.blocks(item.children, "listItem")
        if not content or content[0]["type"] != "paragraph":
            content.insert(0, _paragraph([]))
        return {"type": "listItem", "content": content}

    def task_list(self, node: SyntaxTreeNode) -> Node | None:
        """A bullet list whose every item starts with ``[ ]`` or ``[x]`` and holds one paragraph
        (and possibly nested task lists) -> a ``taskList``; else ``None``."""
        items = node.children
        shapes: list[tuple[str, SyntaxTreeNode, list[SyntaxTreeNode]]] = []
        for item in items:
            children = item.children
            if not children or children[0].type != "paragraph":
                return None
            inline = children[0].children[0] if children[0].children else None
            first = inline.children[0] if inline is not None and inline.children else None
            if first is None or first.type != "text" or not _TASK.match(first.content):
                return None
            nested = children[1:]
            if any(child.type != "bullet_list" for child in nested):
                return None
            shapes.append(("DONE" if first.content[1] in "xX" else "TODO", children[0], nested))
        content: list[Node] = []
        for state, paragraph, nested in shapes:
            inline_content = self.inline(paragraph)
            head = inline_content[0]
            head["text"] = head["text"][4:]
            if not head["text"]:
                inline_content = inline_content[1:]
            task: Node = {"type": "taskItem", "attrs": {"localId": self._local_id(), "state": state}}
            if inline_content:
                task["content"] = inline_content
            content.append(task)
            for sub in nested:
                sub_list = self.task_list(sub)
                if sub_list is None:
                    return None
                content.append(sub_list)
        return {"type": "taskList", "attrs": {"localId": self._local_id()}, "content": content}

    def table(self, node: SyntaxTreeNode) -> Node:
        rows: list[Node] = []
        for section in node.children:
            for row in section.children:
                cells = []
                for cell in row.children:
                    kind = "tableHeader" if cell.type == "th" else "tableCell"
                    cells.append({"type": kind, "content": [_paragraph(self.inline(cell))]})
                rows.append({"type": "tableRow", "content": cells})
        return {"type": "table", "content": rows}

    def inline(self, node: SyntaxTreeNode) -> list[Node]:
        out: list[Node] = []
        for child in node.children:
            if child.type == "inline":
                out += _inline_nodes(child.children, [])
        return _merge_text(out)


def _inline_nodes(nodes: Iterable[SyntaxTreeNode], marks: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        kind = node.type
        if kind in ("text", "html_inline"):
            out += _text_with_breaks(node.content, marks)
        elif kind == "code_inline":
            kept = [m for m in marks if m["type"] == "link"]
            out += _text(node.content, [*kept, {"type": "code"}])
        elif kind in ("softbreak", "hardbreak"):
            out.append({"type": "hardBreak"})
        elif kind in ("strong", "em", "s"):
            mark = {"type": {"s": "strike"}.get(kind, kind)}
            inner = marks if any(m["type"] == "code" for m in marks) else [*marks, mark]
            out += _inline_nodes(node.children, inner)
        elif kind == "link":
            href = str(node.attrs.get("href", ""))
            inner = [m for m in marks if m["type"] != "link"] + [{"type": "link", "attrs": {"href": href}}]
            out += _inline_nodes(node.children, inner)
        elif kind == "image":
            src = str(node.attrs.get("src", ""))
            alt = "".join(c.content for c in node.children if c.type == "text") or src
            out += _text(alt, [*(m for m in marks if m["type"] != "link"), {"type": "link", "attrs": {"href": src}}])
        else:
            out += _inline_nodes(node.children, marks)
    return out


def _join_cells(cells: list[list[Node]]) -> list[Node]:
    out: list[Node] = []
    for index, cell in enumerate(cells):
        if index:
            out.append({"type": "text", "text": " | "})
        out += cell
    return _merge_text(out)


def _text(text: str, marks: Sequence[Node]) -> list[Node]:
    if not text:
        return []
    node: Node = {"type": "text", "text": text}
    if marks:
        node["marks"] = [dict(m) for m in _ordered_marks(marks)]
    return [node]


def _text_with_breaks(text: str, marks: Sequence[Node]) -> list[Node]:
    out: list[Node] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            out.append({"type": "hardBreak"})
        out += _text(line, marks)
    return out


def _ordered_marks(marks: Iterable[Node]) -> list[Node]:
    unique: dict[str, Node] = {}
    for mark in marks:
        unique[mark["type"]] = mark
    return sorted(unique.values(), key=lambda m: _MARK_ORDER.index(m["type"]) if m["type"] in _MARK_ORDER else 99)


def _with_mark(content: list[Node], mark: Node) -> list[Node]:
    out = []
    for node in content:
        if node["type"] == "text" and not any(m["type"] == "code" for m in node.get("marks", [])):
            out.append({**node, "marks": _ordered_marks([*node.get("marks", []), mark])})
        else:
            out.append(node)
    return out


def _merge_text(nodes: list[Node]) -> list[Node]:
    """Adjacent text nodes with the same marks become one."""
    out: list[Node] = []
    for node in nodes:
        if out and node["type"] == "text" and out[-1]["type"] == "text" and out[-1].get("marks") == node.get("marks"):
            out[-1] = {**out[-1], "text": out[-1]["text"] + node["text"]}
        else:
            out.append(node)
    while out and out[-1]["type"] == "hardBreak":
        out.pop()
    return out


def _paragraph(content: list[Node]) -> Node:
    return _drop_empty({"type": "paragraph", "content": content})


def _drop_empty(node: Node) -> Node:
    if not node.get("content"):
        node.pop("content", None)
    return node


# ---------------------------------------------------------------------------------------------
# ADF -> Markdown
# ---------------------------------------------------------------------------------------------


def adf_to_markdown(document: Mapping[str, Any] | None) -> str:
    """An ADF document (or ``None``, Jira's empty description) -> Markdown text, without a
    trailing newline. Nodes Markdown cannot hold degrade to readable text (see the module)."""
    if not document:
        return ""
    return _join_blocks(_render_block(node) for node in _children(document)).strip("\n")


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = node.get("content")
    return [child for child in content if isinstance(child, Mapping)] if isinstance(content, list) else []


def _join_blocks(parts: Iterable[str]) -> str:
    return "\n\n".join(part for part in parts if part)


def _render_block(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    assert isinstance(attrs, Mapping)
    if kind == "paragraph":
        return _render_paragraph(node)
    if kind == "heading":
        level = min(max(int(attrs.get("level") or 1), 1), 6)
        text = _render_inline(_children(node)).replace("\n", " ")
        return f"{'#' * level} {text}".rstrip() if text else ""
    if kind == "bulletList":
        return _render_list(node, ordered=False)
    if kind == "orderedList":
        return _render_list(node, ordered=True)
    if kind == "taskList":
        return _render_task_list(node)
    if kind == "codeBlock":
        text = "".join(str(child.get("text", "")) for child in _children(node))
        fence = "```"
        while fence in text:
            fence += "`"
        language = str(attrs.get("language") or "")
        return f"{fence}{language}\n{text}\n{fence}" if text else f"{fence}{language}\n{fence}"
    if kind == "blockquote":
        return _quote(_join_blocks(_render_block(child) for child in _children(node)))
    if kind == "rule":
        return "---"
    if kind == "table":
        return _render_table(node)
    if kind == "panel":
        title = str(attrs.get("panelType") or "note").capitalize()
        inner = _join_blocks(_render_block(child) for child in _children(node))
        return _quote(_join_blocks([f"**{title}:**", inner]))
    if kind in ("expand", "nestedExpand"):
        title = str(attrs.get("title") or "Details")
        inner = _join_blocks(_render_block(child) for child in _children(node))
        return _quote(_join_blocks([f"**{_escape(title)}**", inner]))
    if kind in ("mediaSingle", "mediaGroup"):
        return "\n".join(_render_media(child) for child in _children(node))
    if kind == "decisionList":
        return "\n".join(f"- Decision: {_render_inline(_children(item))}" for item in _children(node))
    if kind in ("blockCard", "embedCard"):
        url = str(attrs.get("url") or "")
        return f"<{url}>" if url else ""
    children = _children(node)
    if children:
        if all(child.get("type") in _INLINE for child in children):
            return _render_inline(children)
        return _join_blocks(_render_block(child) for child in children)
    return f"[{kind}]" if kind else ""


def _render_paragraph(node: Mapping[str, Any]) -> str:
    text = _render_inline(_children(node))
    # A line that would read as another block when it starts a line is escaped.
    return "\n".join(_escape_line_start(line) for line in text.split("\n"))


def _render_media(node: Mapping[str, Any]) -> str:
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    assert isinstance(attrs, Mapping)
    if attrs.get("type") == "external" and attrs.get("url"):
        return f"![{_escape(str(attrs.get('alt') or ''))}]({attrs['url']})"
    name = attrs.get("alt") or attrs.get("id") or "file"
    return f"[attachment: {_escape(str(name))}]"


def _render_list(node: Mapping[str, Any], *, ordered: bool) -> str:
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    assert isinstance(attrs, Mapping)
    number = int(attrs.get("order") or 1) if ordered else 0
    items = [child for child in _children(node) if child.get("type") == "listItem"]
    loose = any(_loose(item) for item in items)
    rendered = []
    for index, item in enumerate(items):
        bullet = f"{number + index}. " if ordered else "- "
        rendered.append(_indent_item(bullet, _render_item_blocks(_children(item))))
    return ("\n\n" if loose else "\n").join(rendered)


def _loose(item: Mapping[str, Any]) -> bool:
    kinds = [child.get("type") for child in _children(item)]
    lists = ("bulletList", "orderedList", "taskList")
    return any(a not in lists and b not in lists for a, b in itertools.pairwise(kinds))


def _render_item_blocks(blocks: Sequence[Mapping[str, Any]]) -> str:
    out = ""
    for index, block in enumerate(blocks):
        text = _render_block(block)
        if index == 0:
            out = text
            continue
        nested = block.get("type") in ("bulletList", "orderedList", "taskList")
        out += ("\n" if nested else "\n\n") + text
    return out


def _indent_item(bullet: str, text: str) -> str:
    pad = " " * len(bullet)
    lines = text.split("\n")
    head = f"{bullet}{lines[0]}".rstrip()
    return "\n".join([head, *((pad + line) if line else "" for line in lines[1:])])


def _render_task_list(node: Mapping[str, Any]) -> str:
    lines: list[str] = []
    for child in _children(node):
        if child.get("type") == "taskItem":
            attrs = child.get("attrs") if isinstance(child.get("attrs"), Mapping) else {}
            assert isinstance(attrs, Mapping)
            box = "[x]" if attrs.get("state") == "DONE" else "[ ]"
            text = _render_inline(_children(child)).replace("\n", " ")
            lines.append(f"- {box} {text}".rstrip() if text else f"- {box} ")
        elif child.get("type") == "taskList":
            nested = _render_task_list(child)
            if not lines:
                lines.append("- [ ] ")
            lines += ["  " + line for line in nested.split("\n")]
    return "\n".join(lines)


def _render_table(node: Mapping[str, Any]) -> str:
    rows = [[_render_cell(cell) for cell in _children(row)] for row in _children(node)]
    rows = [row for row in rows if row]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] * width) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(line.replace("|  |", "| |") for line in lines)


def _render_cell(cell: Mapping[str, Any]) -> str:
    parts = []
    for block in _children(cell):
        if block.get("type") in ("paragraph", "heading"):
            parts.append(_render_inline(_children(block)))
        else:
            parts.append(_render_block(block))
    return " ".join(" ".join(parts).split("\n")).replace("|", "\\|").strip()


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _render_inline(nodes: Sequence[Mapping[str, Any]]) -> str:
    """Inline nodes -> Markdown, marks opened and closed around runs of text (so two adjacent
    bold nodes are one ``**...**``)."""
    pieces: list[tuple[str, list[Node] | None]] = []
    for node in nodes:
        kind = node.get("type")
        if kind == "text":
            marks = tuple(m for m in node.get("marks") or [] if isinstance(m, Mapping) and m.get("type") in _MARK_ORDER)
            pieces.append((str(node.get("text") or ""), [dict(m) for m in marks]))
        elif kind == "hardBreak":
            pieces.append(("\n", []))
        else:
            pieces.append((_escape(_inline_text(node)), None))  # already Markdown
    return "".join(_render_runs(pieces))


def _inline_text(node: Mapping[str, Any]) -> str:
    """The readable text of an inline node Markdown has no form for."""
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), Mapping) else {}
    assert isinstance(attrs, Mapping)
    if kind == "mention":
        text = str(attrs.get("text") or attrs.get("id") or "someone")
        return text if text.startswith("@") else f"@{text}"
    if kind == "emoji":
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind == "inlineCard":
        return str(attrs.get("url") or "")
    if kind == "status":
        return f"[{str(attrs.get('text') or '').upper()}]"
    if kind == "date":
        try:
            return datetime.fromtimestamp(int(str(attrs.get("timestamp"))) / 1000, UTC).date().isoformat()
        except (TypeError, ValueError, OverflowError, OSError):
            return str(attrs.get("timestamp") or "")
    if kind == "mediaInline":
        return f"[attachment: {attrs.get('alt') or attrs.get('id') or 'file'}]"
    text = "".join(str(child.get("text") or "") for child in _children(node))
    return text or str(attrs.get("text") or "")


def _render_runs(pieces: Sequence[tuple[str, list[Node] | None]]) -> Iterator[str]:
    for text, marks in pieces:
        if marks is None or text == "\n":
            yield text
        else:
            yield _marked(text, marks)


def _marked(text: str, marks: list[Node]) -> str:
    kinds = {m["type"] for m in marks}
    if "code" in kinds:
        ticks = "`"
        while ticks in text:
            ticks += "`"
        pad = " " if text.startswith("`") or text.endswith("`") else ""
        body = f"{ticks}{pad}{text}{pad}{ticks}"
    else:
        # Emphasis cannot start or end with a space: the spaces stay outside the delimiters.
        stripped = text.strip(" ")
        if not stripped:
            return _escape(text)
        lead = text[: len(text) - len(text.lstrip(" "))]
        trail = text[len(text.rstrip(" ")) :]
        body = _escape(stripped)
        for kind, wrap in (("strike", "~~"), ("em", "*"), ("strong", "**")):
            if kind in kinds:
                body = f"{wrap}{body}{wrap}"
        body = lead + body + trail
        if "link" not in kinds:
            return body
        return lead + _link(_escape(stripped), marks, kinds) + trail
    return _link(body, marks, kinds) if "link" in kinds else body


def _link(body: str, marks: list[Node], kinds: set[str]) -> str:
    href = next(str((m.get("attrs") or {}).get("href") or "") for m in marks if m["type"] == "link")
    for kind, wrap in (("strike", "~~"), ("em", "*"), ("strong", "**")):
        if kind in kinds and "code" not in kinds:
            body = f"{wrap}{body}{wrap}"
    destination = f"<{href}>" if re.search(r"[\s()<>]", href) else href
    return f"[{body}]({destination})"


_ESCAPED = re.compile(r"([\\`*\[\]<>~|])")
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _escape(text: str) -> str:
    """Text with the characters Markdown would read as syntax backslash-escaped (``&`` only
    before what reads as an entity)."""
    text = _UNDERSCORE.sub(r"\\_", _ESCAPED.sub(r"\\\1", text))
    return _ENTITY.sub(r"\\&", text)


_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_BLOCK_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)](?=\s|$))")


def _escape_line_start(line: str) -> str:
    match = _BLOCK_START.match(line)
    if match is None:
        return line.lstrip(" ") if line.startswith("    ") else line
    lead, mark = match.groups()
    if mark[-1] in ".)":
        return f"{mark[:-1]}\\{mark[-1]}{line[match.end() :]}"
    return f"\\{mark}{line[match.end() :]}" if not lead else f"{lead}\\{mark}{line[match.end() :]}"


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def adf_problems(document: Mapping[str, Any]) -> list[str]:
    """What in ``document`` breaks the ADF rules (empty list: none): the root is
    ``{"version": 1, "type": "doc"}``; every node's children are of a kind its parent allows;
    text nodes are non-empty strings with known marks, ``code`` combined with ``link`` only;
    headings have a level 1-6; task lists and items have a ``localId`` (items a TODO/DONE state)."""
    problems: list[str] = []
    if document.get("type") != "doc" or document.get("version") != 1:
        problems.append("the root is not {version: 1, type: doc}")
    _check(document, "doc", problems, "doc")
    return problems


def _check(node: Mapping[str, Any], kind: str, problems: list[str], where: str) -> None:
    allowed = _ALLOWED_CHILDREN.get(kind)
    content = node.get("content")
    if content is not None and not isinstance(content, list):
        problems.append(f"{where}: content is not a list")
        return
    for index, child in enumerate(content or []):
        path = f"{where}/{index}:{child.get('type')}"
        child_kind = str(child.get("type"))
        if allowed is not None and child_kind not in allowed:
            problems.append(f"{path}: {child_kind} is not allowed in {kind}")
        if child_kind == "text":
            text = child.get("text")
            if not isinstance(text, str) or not text:
                problems.append(f"{path}: text node with empty text")
            marks = [m.get("type") for m in child.get("marks") or []]
            if any(m not in _TEXT_MARKS for m in marks):
                problems.append(f"{path}: unknown mark in {marks}")
            if len(set(marks)) != len(marks):
                problems.append(f"{path}: a mark twice in {marks}")
            if "code" in marks and set(marks) - {"code", "link"}:
                problems.append(f"{path}: code mark combined with {marks}")
            if kind == "codeBlock" and marks:
                problems.append(f"{path}: marks in a code block")
            links = [m for m in child.get("marks") or [] if m.get("type") == "link"]
            if any(not (m.get("attrs") or {}).get("href") for m in links):
                problems.append(f"{path}: link without href")
        if child_kind == "heading" and (child.get("attrs") or {}).get("level") not in range(1, 7):
            problems.append(f"{path}: heading level")
        if child_kind in ("taskList", "taskItem") and not (child.get("attrs") or {}).get("localId"):
            problems.append(f"{path}: no localId")
        if child_kind == "taskItem" and (child.get("attrs") or {}).get("state") not in ("TODO", "DONE"):
            problems.append(f"{path}: task state")
        if child_kind == "listItem":
            first = (child.get("content") or [{}])[0].get("type")
            if first in ("bulletList", "orderedList"):
                problems.append(f"{path}: a list item starting with a list")
        if child_kind in ("bulletList", "orderedList", "table", "tableRow", "taskList") and not child.get("content"):
            problems.append(f"{path}: {child_kind} without content")
        _check(child, child_kind, problems, path)
