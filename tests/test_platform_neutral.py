"""The sync engine and the Git services name no platform: everything platform-specific comes
from the platform registry and the adapters behind it."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from taskorch.config import Settings
from taskorch.errors import InvalidInput
from taskorch.platforms.registry import PLATFORMS, platform_spec, resolve_repository

SOURCE = Path(__file__).resolve().parents[1] / "src" / "taskorch"
#: secrets.py is left out: it knows the shapes of every vendor's tokens (GitHub, GitLab, Atlassian,
#: Slack, AWS, ...) so that none is stored by mistake; that is not platform behaviour.
NEUTRAL = [p for p in sorted((SOURCE / "sync").glob("*.py")) if p.name != "secrets.py"] + [
    SOURCE / "services" / "git.py"
]
PLATFORM_NAME = re.compile(r"\bgit(hub|lab)\b", re.IGNORECASE)


def _code_without_comments_and_docstrings(path: Path) -> str:
    """The file's code: comments dropped, docstrings blanked (what runs, not what explains)."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[tuple[int, int]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.add((first.lineno, first.col_offset))
    kept = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT or (token.type == tokenize.STRING and token.start in docstrings):
            continue
        kept.append(token.string)
    return " ".join(kept)


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_engine_and_the_git_services_name_no_platform(path: Path) -> None:
    found = PLATFORM_NAME.findall(_code_without_comments_and_docstrings(path))
    assert not found, f"{path.name} names a platform in its code; take it from the platform registry"


def test_every_platform_declares_what_the_services_need() -> None:
    for name, spec in PLATFORMS.items():
        assert spec.name == name and spec.token_variable.endswith("_TOKEN")
        assert spec.url_variable.startswith("TASKORCH_")
        assert set(spec.board_columns) == {"proposed", "approved", "in_progress", "blocked", "completed", "cancelled"}
        # A code host only (Bitbucket Cloud) has no milestones: the connection's Jira project does.
        assert spec.capabilities().milestones or spec.no_issues


@pytest.mark.parametrize(
    ("reference", "platform", "url", "expected"),
    [
        ("octo-org/shop", None, None, ("github", "github.com", "octo-org/shop")),
        ("gitlab:group/sub/project", None, None, ("gitlab", "gitlab.com", "group/sub/project")),
        ("https://gitlab.com/group/sub/project.git", None, None, ("gitlab", "gitlab.com", "group/sub/project")),
        ("git@gitlab.com:group/project.git", None, None, ("gitlab", "gitlab.com", "group/project")),
        (
            "group/sub/project",
            "gitlab",
            "https://gitlab.example.com",
            ("gitlab", "gitlab.example.com", "group/sub/project"),
        ),
        (
            "group/sub/project",
            None,
            "https://gitlab.example.com",
            ("gitlab", "gitlab.example.com", "group/sub/project"),
        ),
        ("https://ghe.example.com/octo/shop", "github", None, ("github", "ghe.example.com", "octo/shop")),
    ],
)
def test_a_reference_resolves_to_its_platform_host_and_path(
    reference: str, platform: str | None, url: str | None, expected: tuple[str, str, str]
) -> None:
    spec, ref = resolve_repository(reference, platform=platform, settings=Settings(database_url="sqlite://"), url=url)
    assert (spec.name, ref.host, ref.path) == expected


def test_a_self_managed_gitlab_named_by_the_setting_is_the_default_host() -> None:
    settings = Settings(database_url="sqlite://", gitlab_url="https://gitlab.example.com")
    spec, ref = resolve_repository("gitlab:group/project", platform=None, settings=settings)
    assert ref.host == "gitlab.example.com" and str(ref) == "https://gitlab.example.com/group/project"
    assert spec.api_url(ref, spec.configured_url(settings)) == "https://gitlab.example.com"
    github = platform_spec("github")
    enterprise = resolve_repository("https://ghe.example.com/o/r", platform="github", settings=settings)[1]
    assert github.api_url(enterprise, "https://api.github.com") == "https://ghe.example.com/api/v3"


@pytest.mark.parametrize(
    ("reference", "platform", "field"),
    [("octo/a/b", "github", "repository"), ("gitlab:g/p", "github", "platform"), ("x/y", "forgejo", "platform")],
)
def test_a_reference_the_platform_cannot_have_is_refused(reference: str, platform: str, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve_repository(reference, platform=platform, settings=Settings(database_url="sqlite://"))
    assert refused.value.field == field
