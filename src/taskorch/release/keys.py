"""Jira issue keys in the work: the key a task's issue has, the branch name and commit prefix that
carry it, and links to the issues a release's notes mention.

Jira Cloud links commits, branches and pull requests of a connected Bitbucket (or GitHub, GitLab)
repository to an issue by its key (``SHOP-12``) found in the branch name, the commit message or
the pull request's title (https://support.atlassian.com/jira-software-cloud/docs/reference-issues-in-your-development-work/),
so taskorch offers the key for both and links the keys in the changelog to ``{site}/browse/KEY-N``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

__all__ = ["branch_name", "issue_key", "link_keys", "site_of"]

_BROWSE = re.compile(r"/browse/([A-Z][A-Z0-9_]{1,49}-[1-9][0-9]*)/?$")
#: Longest branch name offered, in characters (the key plus a few words of the title).
BRANCH_LIMIT = 50


def issue_key(platform: str, repository: str | None, number: int | None, url: str | None) -> str | None:
    """The Jira key of a linked issue (``SHOP-12``), or ``None`` when the link is not to Jira or
    names no key: read from the issue's ``/browse/KEY-N`` URL, else the project key (the last
    segment of ``repository``) and ``number``."""
    if platform != "jira":
        return None
    found = _BROWSE.search(urlsplit(url or "").path)
    if found:
        return found.group(1)
    project = (repository or "").rstrip("/").rsplit("/", 1)[-1].upper()
    if number is not None and number > 0 and re.fullmatch(r"[A-Z][A-Z0-9_]{1,49}", project):
        return f"{project}-{number}"
    return None


def branch_name(key: str, title: str) -> str:
    """``shop-12-add-the-cart``: the key, lower-cased, then the title's words in ASCII, joined by
    ``-``, cut at a word to at most :data:`BRANCH_LIMIT` characters."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_title)
    name = key.lower()
    for word in words:
        if len(name) + 1 + len(word) > BRANCH_LIMIT:
            break
        name += f"-{word}"
    return name


def site_of(repository_url: str) -> str:
    """The site of a stored Jira reference (``https://SITE.atlassian.net/browse/KEY`` ->
    ``https://SITE.atlassian.net``)."""
    parts = urlsplit(repository_url)
    return f"{parts.scheme}://{parts.netloc}"


def link_keys(text: str, site: str, project: str) -> str:
    """``text`` with every key of ``project`` (``SHOP-12``) not already inside a Markdown link made
    a link to ``{site}/browse/SHOP-12``. Only the connected project's keys are linked, so
    ``UTF-8`` or ``ISO-8601`` stay text."""
    pattern = re.compile(rf"(\[[^\]]*\]\([^)]*\))|(?<![\w/\-])({re.escape(project)}-[1-9][0-9]*)(?![\w\-])")

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        key = match.group(2)
        return f"[{key}]({site.rstrip('/')}/browse/{key})"

    return pattern.sub(replace, text)
