"""Release notes from finished tasks and Conventional Commits, and CHANGELOG.md upkeep.

Entries come from two sources: the release's completed tasks (linked to their issues) and the
commits since the previous tag, parsed as Conventional Commits (https://www.conventionalcommits.org)
by git-changelog's parser where they follow it. They are grouped by kind:

==============  =====================================================================
kind            from
==============  =====================================================================
breaking        a task labelled ``breaking``; a commit with ``!`` or BREAKING CHANGE
features        a task of type feature; a ``feat`` commit
fixes           a task of type bugfix; a ``fix`` commit
documentation   a task of type documentation; a ``docs`` commit
other           everything else
==============  =====================================================================

CHANGELOG.md follows Keep a Changelog 1.1.0 (https://keepachangelog.com/en/1.1.0/): one
``## [version] - date`` section per release, newest first, under ``## [Unreleased]``. Writing a
release's section replaces that section only; earlier entries are left as they are.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from taskorch.errors import Conflict
from taskorch.release.git import Commit

__all__ = [
    "CHANGELOG",
    "KINDS",
    "Entry",
    "changelog_path",
    "commit_entries",
    "hand_written_notes",
    "read_changelog",
    "render_section",
    "task_entries",
    "update_changelog",
    "write_changelog",
]

Template = Literal["automated", "manual", "hybrid"]
CHANGELOG = "CHANGELOG.md"

#: Kinds in the order they appear, with their Keep a Changelog heading.
KINDS: tuple[tuple[str, str], ...] = (
    ("breaking", "Breaking changes"),
    ("features", "Added"),
    ("fixes", "Fixed"),
    ("documentation", "Documentation"),
    ("other", "Changed"),
)
BREAKING_LABELS = frozenset({"breaking", "breaking-change", "breaking change"})
NOTES_HEADING = "### Notes"

HEADER = """# Changelog

All notable changes to this project are documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]
"""

_CC_KIND = {"Features": "features", "Bug Fixes": "fixes", "Docs": "documentation"}
_SECTION = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)
_BROWSE_KEY = re.compile(r"/browse/([A-Z][A-Z0-9_]*-[1-9][0-9]*)/?$")


@dataclass(frozen=True)
class Entry:
    kind: str
    text: str
    source: Literal["task", "commit"]


def task_entries(tasks: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """One entry per completed task: ``title`` linked to its issue when it has one.

    Each mapping holds ``id``, ``title``, ``task_type``, ``labels`` and optionally
    ``issue_number`` and ``issue_url``.
    """
    out = []
    for task in tasks:
        labels = {label.lower() for label in task.get("labels") or []}
        if labels & BREAKING_LABELS:
            kind = "breaking"
        else:
            kind = {"feature": "features", "bugfix": "fixes", "documentation": "documentation"}.get(
                task["task_type"], "other"
            )
        if task.get("issue_number"):
            # A Jira issue is named by its key (its URL is .../browse/SHOP-12), others by number.
            key = _BROWSE_KEY.search(str(task.get("issue_url") or ""))
            label = key.group(1) if key else f"#{task['issue_number']}"
            ref = f"[{label}]({task['issue_url']})" if task.get("issue_url") else label
        else:
            ref = f"task {task['id']}"
        out.append(Entry(kind=kind, text=f"{task['title']} ({ref})", source="task"))
    return out


def commit_entries(commits: Sequence[Commit]) -> list[Entry]:
    """One entry per commit, parsed as a Conventional Commit where it is one (merges skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from git_changelog import Commit as ParsedCommit
        from git_changelog import ConventionalCommitConvention

    convention = ConventionalCommitConvention()
    out = []
    for commit in commits:
        if commit.subject.startswith("Merge "):
            continue
        parsed = convention.parse_commit(
            ParsedCommit(commit_hash=commit.sha, subject=commit.subject, body=["", *commit.body.splitlines()])
        )
        if parsed.get("type"):
            kind = "breaking" if parsed.get("is_major") else _CC_KIND.get(str(parsed["type"]), "other")
            scope = f"**{parsed['scope']}:** " if parsed.get("scope") else ""
            text = f"{scope}{parsed['subject']} ({commit.sha[:7]})"
        else:
            kind, text = "other", f"{commit.subject} ({commit.sha[:7]})"
        out.append(Entry(kind=kind, text=text, source="commit"))
    return out


def render_section(
    name: str,
    date: str,
    entries: Sequence[Entry],
    *,
    template: Template,
    notes: str | None = None,
) -> str:
    """The Markdown section of one release (``## [name] - date`` and its groups).

    ``automated``: every entry; ``manual``: the headings with empty bullets and the entries as
    comments, to fill in by hand; ``hybrid``: every entry plus a hand-written ``### Notes`` block
    (``notes``) kept on regeneration.
    """
    lines = [f"## [{name}] - {date}", ""]
    if template in ("hybrid", "manual") and notes and notes.strip():
        lines += [NOTES_HEADING, "", notes.strip(), ""]
    elif template == "hybrid":
        lines += [
            NOTES_HEADING,
            "",
            "<!-- Hand-written notes go here; they are kept when the notes are regenerated. -->",
            "",
        ]
    for kind, heading in KINDS:
        group = [e for e in entries if e.kind == kind]
        if template == "manual":
            lines += [f"### {heading}", "", "- ", ""]
            lines += [f"<!-- {e.text} -->" for e in group]
            if group:
                lines.append("")
            continue
        if not group:
            continue
        lines += [f"### {heading}", ""]
        lines += [f"- {e.text}" for e in group]
        lines.append("")
    if template != "manual" and not entries:
        lines += ["No changes recorded.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _sections(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of every ``## [name]`` section."""
    marks = list(_SECTION.finditer(text))
    out = []
    for index, match in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else _link_block_start(text, match.start())
        out.append((match.group("name"), match.start(), end))
    return out


def _link_block_start(text: str, after: int) -> int:
    """Where trailing link definitions (``[1.0.0]: https://...``) begin, or the end of the text."""
    match = re.search(r"^\[[^\]]+\]: \S+.*(?:\n|$)", text[after:], re.MULTILINE)
    return after + match.start() if match else len(text)


def hand_written_notes(changelog: str, name: str) -> str | None:
    """The ``### Notes`` block of release ``name`` in an existing CHANGELOG.md, if any."""
    for section_name, start, end in _sections(changelog):
        if section_name == name:
            body = changelog[start:end]
            match = re.search(
                rf"^{re.escape(NOTES_HEADING)}\n(?P<notes>.*?)(?=^### |\Z)", body, re.MULTILINE | re.DOTALL
            )
            if match:
                notes = re.sub(r"<!--.*?-->", "", match.group("notes"), flags=re.DOTALL).strip()
                return notes or None
    return None


def update_changelog(existing: str | None, name: str, section: str) -> str:
    """CHANGELOG.md with ``section`` for release ``name``: replaced if present, else inserted
    newest-first below ``[Unreleased]``. Nothing else is changed."""
    text = existing if existing and existing.strip() else HEADER
    block = section.rstrip() + "\n\n"
    for section_name, start, end in _sections(text):
        if section_name == name:
            return text[:start] + block + text[end:].lstrip("\n")
    sections = [s for s in _sections(text) if s[0].lower() != "unreleased"]
    if sections:
        start = sections[0][1]
        return text[:start] + block + text[start:]
    unreleased = next((s for s in _sections(text) if s[0].lower() == "unreleased"), None)
    if unreleased is not None:
        end = unreleased[2]
        head = text[:end].rstrip() + "\n\n"
        return head + block + text[end:].lstrip("\n")
    return text.rstrip() + "\n\n" + block


def changelog_path(project_root: str | Path) -> Path:
    """``<project root>/CHANGELOG.md``, if it is safe to read and write: absent, or a regular file
    with one link that resolves inside the project. Raises :class:`Conflict` otherwise (a
    symbolic link, a hard link, anything but a file), before anything is read or written."""
    root = Path(project_root).resolve()
    path = root / CHANGELOG
    fix = "replace it with a regular file of the project (or remove it), then run the command again."
    if path.is_symlink():
        raise Conflict(f"{CHANGELOG} in the project is a symbolic link; taskorch writes only a regular file: {fix}")
    if not path.exists():
        return path
    if not path.is_file():
        raise Conflict(f"{CHANGELOG} in the project is not a regular file: {fix}")
    if path.stat().st_nlink > 1:
        raise Conflict(f"{CHANGELOG} in the project is a hard link shared with another file: {fix}")
    if not path.resolve().is_relative_to(root):
        raise Conflict(f"{CHANGELOG} resolves outside the project: {fix}")
    return path


def read_changelog(path: Path) -> str | None:
    """The text of a :func:`changelog_path`, or ``None`` when there is none yet."""
    return path.read_text(encoding="utf-8") if path.exists() else None


def write_changelog(path: Path, text: str) -> None:
    """Write ``text`` to a :func:`changelog_path` atomically: a temporary file in the same
    directory replaces the entry, so a link made in the meantime is replaced, never followed."""
    fd, temporary = tempfile.mkstemp(prefix=".CHANGELOG.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists() and not path.is_symlink():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
