"""The text rules, the id parser and the terminal escaping on their own."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from taskorch.domain.text import checked_text, control_problem, describe_character, parse_id, printable
from taskorch.errors import InvalidInput
from taskorch.services.fields import MultiLine, OneLine, input_error, text_arguments


def test_describe_character_names_control_characters() -> None:
    assert describe_character("\x00") == "U+0000 (NUL)"
    assert describe_character("\x1b") == "U+001B (ESC)"
    assert describe_character("\x7f") == "U+007F (DEL)"
    assert describe_character("\x9b") == "U+009B (CSI)"
    assert describe_character("é") == "U+00E9"


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]])
def test_one_line_text_refuses_every_control_character(char: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        checked_text(f"a{char}b", field="title")
    assert raised.value.field == "title"
    assert raised.value.problem.startswith(f"contains the control character {describe_character(char)} at character 2")


def test_multi_line_text_keeps_lf_and_tab_and_makes_crlf_lf() -> None:
    assert checked_text("a\r\nb\tc\n", field="description", multiline=True) == "a\nb\tc\n"
    for bad in ("a\rb", "a\x00", "\x1b[2J", "\x7f", "\x85"):
        assert control_problem(bad, multiline=True) is not None, repr(bad)
    assert control_problem("Ünïcode 🚀 \u202e ok", multiline=False) is None


def test_printable_escapes_all_but_lf_and_tab() -> None:
    assert printable("a\x1b[31mb\x9b\x7f\r\n\tc\rd") == "a\\x1b[31mb\\x9b\\x7f\n\tc\\rd"
    assert printable("[bold]x[/bold] ünï") == "[bold]x[/bold] ünï"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("0042", 42), ("2147483647", 2**31 - 1)],
)
def test_parse_id_takes_ascii_digits_in_range(text: str, expected: int) -> None:
    assert parse_id(text, field="task_id", maximum=2**31 - 1) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0", "000", "-1", "+1", " 1", "1 ", "1\n", "²", "٣", "１", "1.0", "1e3", "0x10", "2147483648", "9" * 5000],
)
def test_parse_id_refuses_anything_else(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_id(text, field="task_id", maximum=2**31 - 1)
    assert raised.value.field == "task_id"
    assert len(str(raised.value)) < 300


class Sample(BaseModel):
    title: OneLine
    body: MultiLine = ""
    tags: list[OneLine] = []


def test_input_error_names_the_dotted_field_without_pydantic_prefixes() -> None:
    with pytest.raises(ValidationError) as raised:
        Sample(title="ok", tags=["a", "b\x1b"])
    error = input_error(raised.value)
    assert error.field == "tags.1"
    assert str(error).startswith("tags.1: contains the control character U+001B (ESC) at character 2 of 2.")
    assert error.fix is not None and error.fix.startswith("remove it")
    with pytest.raises(ValidationError) as raised:
        Sample(title=3, body=None)  # type: ignore[arg-type]
    error = input_error(raised.value)
    assert str(error) == "title: Input should be a valid string. Also body: Input should be a valid string."
    assert Sample(title="t", body="a\r\nb").body == "a\nb"


class _Service:
    @text_arguments(lines=("name", "labels"), texts=("reason",))
    def act(self, name: str, reason: str = "", labels: list[str] | None = None) -> tuple[str, str]:
        return name, reason


def test_text_arguments_checks_named_arguments_and_items() -> None:
    service = _Service()
    assert service.act("x", reason="a\r\nb") == ("x", "a\nb")
    with pytest.raises(InvalidInput, match=r"^name: contains the control character U\+0009 \(HT\)"):
        service.act("a\tb")
    with pytest.raises(InvalidInput, match=r"^labels\.1: "):
        service.act("x", labels=["ok", "b\x00"])
    with pytest.raises(TypeError, match="no argument"):
        text_arguments(lines=("missing",))(_Service.act)
