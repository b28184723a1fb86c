"""The platform-neutral seams: repository references and capabilities."""

from __future__ import annotations

import pytest

from taskorch.errors import InvalidInput
from taskorch.platforms.base import Capabilities, RepositoryRef, parse_repository


@pytest.mark.parametrize(
    ("text", "platform", "expected"),
    [
        ("octo-org/shop", "github", RepositoryRef("github", "github.com", "octo-org/shop")),
        ("https://github.com/octo-org/shop.git", "github", RepositoryRef("github", "github.com", "octo-org/shop")),
        (
            "https://ghe.example.com/octo-org/shop",
            "github",
            RepositoryRef("github", "ghe.example.com", "octo-org/shop"),
        ),
        ("gitlab:group/sub/project", "github", RepositoryRef("gitlab", "gitlab.com", "group/sub/project")),
        ("group/sub/project", "gitlab", RepositoryRef("gitlab", "gitlab.com", "group/sub/project")),
        (
            "git@gitlab.example.com:group/sub/project.git",
            "gitlab",
            RepositoryRef("gitlab", "gitlab.example.com", "group/sub/project"),
        ),
    ],
)
def test_a_repository_is_host_plus_full_path(text: str, platform: str, expected: RepositoryRef) -> None:
    ref = parse_repository(text, platform=platform)
    assert ref == expected
    assert parse_repository(str(ref), platform=ref.platform) == ref


@pytest.mark.parametrize("text", ["shop", "octo-org/", "https://github.com/shop", "a/b c", "https:///a/b"])
def test_a_malformed_repository_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="repository"):
        parse_repository(text)


def test_the_github_adapter_declares_what_it_does() -> None:
    from taskorch.platforms.github import GitHubPlatform

    caps = GitHubPlatform.capabilities
    assert isinstance(caps, Capabilities)
    assert caps.sub_issues and caps.boards and caps.releases and caps.conditional_requests
    assert not caps.time_tracking and not caps.scoped_labels
