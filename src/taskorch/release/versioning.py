"""Semantic Versioning (https://semver.org) of releases, through the ``semver`` library."""

from __future__ import annotations

from collections.abc import Iterable

import semver

from taskorch.errors import InvalidInput

__all__ = ["latest", "next_version", "parse_version", "tag_name"]


def parse_version(text: str, *, field: str = "release_version") -> semver.Version:
    """``"1.2.0"`` or ``"v1.2.0"`` -> Version; raises :class:`InvalidInput` saying why not."""
    raw = text.strip()
    candidate = raw[1:] if raw[:1] in ("v", "V") else raw
    try:
        return semver.Version.parse(candidate)
    except (ValueError, TypeError):
        raise InvalidInput(
            field,
            f"{text!r} is not a Semantic Version (MAJOR.MINOR.PATCH, e.g. 1.4.0 or 2.0.0-rc.1).",
            "see https://semver.org; a leading v is allowed.",
        ) from None


def tag_name(version: semver.Version) -> str:
    return f"v{version}"


def latest(tags: Iterable[str]) -> tuple[str, semver.Version] | None:
    """The highest tag that is a Semantic Version (pre-releases included), with its version."""
    best: tuple[str, semver.Version] | None = None
    for tag in tags:
        candidate = tag[1:] if tag[:1] in ("v", "V") else tag
        try:
            version = semver.Version.parse(candidate)
        except ValueError:
            continue
        if best is None or version > best[1]:
            best = (tag, version)
    return best


def next_version(previous: semver.Version | None, *, breaking: bool, features: bool) -> tuple[semver.Version, str]:
    """The next version from the kinds of change included, and the reason in words.

    Breaking changes bump MAJOR (MINOR while MAJOR is 0, as SemVer's initial-development rule
    allows), features MINOR, anything else PATCH. Without a previous release: 0.1.0.
    """
    if previous is None:
        return semver.Version(0, 1, 0), "first release"
    if previous.prerelease:
        return previous.finalize_version(), f"finalizes the pre-release {previous}"
    if breaking:
        if previous.major == 0:
            return previous.bump_minor(), "breaking changes (a 0.x release bumps MINOR)"
        return previous.bump_major(), "breaking changes"
    if features:
        return previous.bump_minor(), "new features"
    return previous.bump_patch(), "fixes and other changes"
