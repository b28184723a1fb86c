"""Markdown <-> Atlassian Document Format: the nodes built, the ADF rules they keep, people's
nodes degrading to readable text, and (with generated documents) that a round trip keeps the
structure: Markdown -> ADF -> Markdown is a fixpoint after one normalisation."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from taskorch.platforms.adf import adf_problems, adf_to_markdown, empty_document, markdown_to_adf


def doc(*content: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": list(content)}


def para(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def text(value: str, *marks: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    kinds = [{"type": m} for m in marks]
    if href is not None:
        kinds.insert(0, {"type": "link", "attrs": {"href": href}})
    if kinds:
        node["marks"] = kinds
    return node


# -- Markdown -> ADF ------------------------------------------------------------------------------


def test_blocks_and_marks() -> None:
    built = markdown_to_adf(
        "# Title\n\nSome **bold**, *em*, `code`, ~~gone~~ and [a link](https://example.com).\n\n---\n\n> quoted"
    )
    assert adf_problems(built) == []
    heading, paragraph, rule, quote = built["content"]
    assert heading == {"type": "heading", "attrs": {"level": 1}, "content": [text("Title")]}
    assert paragraph["content"] == [
        text("Some "),
        text("bold", "strong"),
        text(", "),
        text("em", "em"),
        text(", "),
        text("code", "code"),
        text(", "),
        text("gone", "strike"),
        text(" and "),
        text("a link", href="https://example.com"),
        text("."),
    ]
    assert rule == {"type": "rule"}
    assert quote == {"type": "blockquote", "content": [para(text("quoted"))]}


def test_lists_nested_ordered_and_tasks() -> None:
    built = markdown_to_adf("- a\n  - b\n- c\n\n3. three\n4. four\n\n- [ ] todo\n- [x] done\n  - [ ] sub")
    assert adf_problems(built) == []
    bullets, ordered, tasks = built["content"]
    assert bullets["type"] == "bulletList"
    assert bullets["content"][0]["content"][1]["type"] == "bulletList"
    assert ordered["attrs"] == {"order": 3} and len(ordered["content"]) == 2
    assert tasks["type"] == "taskList"
    kinds = [(n["type"], n.get("attrs", {}).get("state")) for n in tasks["content"]]
    assert kinds == [("taskItem", "TODO"), ("taskItem", "DONE"), ("taskList", None)]
    assert tasks["content"][0]["content"] == [text("todo")]


def test_code_blocks_keep_their_language_and_text() -> None:
    built = markdown_to_adf("```mermaid\ngraph TD\n  A-->B\n```\n\n    indented code")
    assert built["content"] == [
        {"type": "codeBlock", "attrs": {"language": "mermaid"}, "content": [text("graph TD\n  A-->B")]},
        {"type": "codeBlock", "content": [text("indented code")]},
    ]
    assert adf_to_markdown(built) == "```mermaid\ngraph TD\n  A-->B\n```\n\n```\nindented code\n```"


def test_line_breaks_are_hard_breaks_and_tables_are_tables() -> None:
    built = markdown_to_adf("one\ntwo  \nthree\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert adf_problems(built) == []
    assert built["content"][0]["content"] == [
        text("one"),
        {"type": "hardBreak"},
        text("two"),
        {"type": "hardBreak"},
        text("three"),
    ]
    table = built["content"][1]
    assert [cell["type"] for cell in table["content"][0]["content"]] == ["tableHeader", "tableHeader"]
    assert [cell["type"] for cell in table["content"][1]["content"]] == ["tableCell", "tableCell"]
    assert adf_to_markdown(built) == "one\ntwo\nthree\n\n| a | b |\n|---|---|\n| 1 | 2 |"


def test_what_adf_does_not_allow_is_reshaped() -> None:
    built = markdown_to_adf(
        "- # heading in a list\n\n> > nested quote\n\n**`code in bold`**\n\n-\n\n![alt](https://x/i.png)"
    )
    assert adf_problems(built) == []
    item = built["content"][0]["content"][0]
    assert item["content"][0] == para(text("heading in a list", "strong"))
    assert built["content"][1] == {"type": "blockquote", "content": [para(text("nested quote"))]}
    assert built["content"][2]["content"] == [text("code in bold", "code")]  # code takes no other mark
    assert built["content"][3]["content"][0]["content"] == [{"type": "paragraph"}]  # an empty item
    assert built["content"][4]["content"] == [text("alt", href="https://x/i.png")]
    assert markdown_to_adf("") == empty_document()
    quoted = markdown_to_adf("> - [ ] a task in a quote\n\n- | a | b |\n  |---|---|\n  | 1 | 2 |")
    assert adf_problems(quoted) == []
    assert quoted["content"][0]["content"][0]["type"] == "bulletList"
    assert quoted["content"][1]["content"][0]["content"] == [para(text("a | b")), para(text("1 | 2"))]


# -- ADF -> Markdown: people's nodes -------------------------------------------------------------


def test_unknown_nodes_degrade_to_readable_text() -> None:
    people = doc(
        para(
            text("Hi "),
            {"type": "mention", "attrs": {"id": "712020:abc", "text": "@Ada"}},
            text(" "),
            {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}},
            text(" "),
            {"type": "status", "attrs": {"text": "in review", "color": "blue"}},
            text(" due "),
            {"type": "date", "attrs": {"timestamp": "1736121600000"}},
            text(" see "),
            {"type": "inlineCard", "attrs": {"url": "https://example.com/x"}},
        ),
        {"type": "panel", "attrs": {"panelType": "warning"}, "content": [para(text("Careful"))]},
        {"type": "expand", "attrs": {"title": "More"}, "content": [para(text("Hidden"))]},
        {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"type": "file", "id": "f1", "alt": "s.png"}}]},
        {"type": "decisionList", "content": [{"type": "decisionItem", "content": [text("Ship it")]}]},
        {"type": "blockCard", "attrs": {"url": "https://example.com/card"}},
        {"type": "somethingNew", "content": [para(text("kept"))]},
        {"type": "extension", "attrs": {"extensionKey": "x"}},
    )
    assert adf_to_markdown(people).split("\n\n") == [
        "Hi @Ada 😄 \\[IN REVIEW\\] due 2025-01-06 see https://example.com/x",
        "> **Warning:**\n>\n> Careful",
        "> **More**\n>\n> Hidden",
        "[attachment: s.png]",
        "- Decision: Ship it",
        "<https://example.com/card>",
        "kept",
        "[extension]",
    ]
    assert adf_to_markdown(None) == "" and adf_to_markdown(empty_document()) == ""


def test_marks_render_as_markdown_that_parses_back() -> None:
    built = doc(
        para(
            text("bold ", "strong"),
            text("and both", "strong", "em"),
            text(" "),
            text("x`y", "code"),
            text(" "),
            text("linked code", "code", href="https://e.com/a_(b)"),
            text(" "),
            text("under", "underline"),
        )
    )
    markdown = adf_to_markdown(built)
    assert markdown == "**bold** ***and both*** ``x`y`` [`linked code`](<https://e.com/a_(b)>) under"
    again = markdown_to_adf(markdown)["content"][0]["content"]
    assert text("linked code", "code", href="https://e.com/a_(b)") in again
    assert text("x`y", "code") in again


def test_text_that_looks_like_markdown_is_escaped() -> None:
    for value in ("# not a heading", "- not a list", "1. not ordered", "a *b* _c_ [d](e) <f> `g` ~~h~~ | &amp;"):
        assert markdown_to_adf(adf_to_markdown(doc(para(text(value)))))["content"] == [para(text(value))]


def test_problems_are_named() -> None:
    bad = doc(
        para(text("")),
        para(text("x", "code", "strong")),
        {"type": "bulletList", "content": [para(text("not an item"))]},
        {"type": "heading", "attrs": {"level": 9}, "content": [text("h")]},
        {"type": "taskList", "content": [{"type": "taskItem", "attrs": {"localId": "1", "state": "MAYBE"}}]},
    )
    problems = adf_problems(bad)
    assert any("empty text" in p for p in problems)
    assert any("code mark combined" in p for p in problems)
    assert any("paragraph is not allowed in bulletList" in p for p in problems)
    assert any("heading level" in p for p in problems)
    assert any("no localId" in p for p in problems) and any("task state" in p for p in problems)


# -- generated documents ---------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789", min_size=1, max_size=8)
_ODD = st.sampled_from(["*", "_", "#", "[", "]", "<", ">", "`", "|", "~", "&", "\\", "!", "1.", "-", "+"])
_TOKEN = st.one_of(_WORD, _WORD, _WORD, st.builds(lambda a, b: a + b, _WORD, _ODD))


def _words(tokens: list[str]) -> str:
    return " ".join(tokens)


def _escape_words(tokens: list[str]) -> str:
    out = []
    for token in tokens:
        out.append("".join(f"\\{c}" if not c.isalnum() else c for c in token))
    return " ".join(out)


_PLAIN = st.lists(_WORD, min_size=1, max_size=4).map(_words)
_SEGMENT = st.one_of(
    st.lists(_TOKEN, min_size=1, max_size=4).map(_escape_words),
    _PLAIN.map(lambda s: f"**{s}**"),
    _PLAIN.map(lambda s: f"*{s}*"),
    _PLAIN.map(lambda s: f"~~{s}~~"),
    _PLAIN.map(lambda s: f"`{s}`"),
    st.tuples(_PLAIN, _WORD).map(lambda p: f"[{p[0]}](https://example.com/{p[1]})"),
)


_INLINE = st.lists(_SEGMENT, min_size=1, max_size=5).map(" ".join)


def _list_of(marker: str, items: list[tuple[str, list[str]]]) -> str:
    lines = []
    for number, (head, nested) in enumerate(items, 1):
        bullet = f"{number}." if marker == "1." else marker
        lines.append(f"{bullet} {head}")
        pad = " " * (len(bullet) + 1)
        lines += [f"{pad}- {sub}" for sub in nested]
    return "\n".join(lines)


_ITEMS = st.lists(st.tuples(_INLINE, st.lists(_INLINE, max_size=2)), min_size=1, max_size=4)
_BLOCK = st.one_of(
    st.lists(_INLINE, min_size=1, max_size=3).map("\n".join),
    st.tuples(st.integers(1, 6), _INLINE).map(lambda h: f"{'#' * h[0]} {h[1]}"),
    _ITEMS.map(lambda items: _list_of("-", items)),
    _ITEMS.map(lambda items: _list_of("1.", items)),
    st.lists(st.tuples(st.booleans(), _INLINE), min_size=1, max_size=4).map(
        lambda items: "\n".join(f"- [{'x' if done else ' '}] {line}" for done, line in items)
    ),
    st.tuples(st.sampled_from(["", "python", "mermaid"]), st.lists(_PLAIN, min_size=1, max_size=3)).map(
        lambda c: f"```{c[0]}\n" + "\n".join(c[1]) + "\n```"
    ),
    st.lists(_INLINE, min_size=1, max_size=2).map(lambda lines: "\n".join(f"> {line}" for line in lines)),
    _ITEMS.map(lambda items: "\n".join(f"> {line}" for line in _list_of("-", items).split("\n"))),
    st.lists(_PLAIN, min_size=1, max_size=2).map(lambda lines: "\n".join(f"> - [ ] {line}" for line in lines)),
    st.just("---"),
    st.tuples(st.lists(_PLAIN, min_size=2, max_size=2), st.lists(_PLAIN, min_size=2, max_size=2)).map(
        lambda t: f"| {t[0][0]} | {t[0][1]} |\n|---|---|\n| {t[1][0]} | {t[1][1]} |"
    ),
)
_DOCUMENT = st.lists(_BLOCK, min_size=1, max_size=6).map("\n\n".join)


@settings(max_examples=300, deadline=None)
@given(_DOCUMENT)
def test_markdown_round_trips_to_a_fixpoint_with_the_same_structure(markdown: str) -> None:
    built = markdown_to_adf(markdown)
    assert adf_problems(built) == []
    once = adf_to_markdown(built)
    assert markdown_to_adf(once) == built  # the structure survives the trip
    assert adf_to_markdown(markdown_to_adf(once)) == once  # and the Markdown is a fixpoint


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(str.strip))
def test_any_text_survives_a_round_trip(value: str) -> None:
    if not value:
        return
    original = doc(para(text(value)))
    assert adf_problems(original) == []
    assert markdown_to_adf(adf_to_markdown(original)) == original
