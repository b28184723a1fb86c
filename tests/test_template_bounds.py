"""Issue templates render within bounds (range sizes, loop iterations, output, time) and never
while a write transaction holds the database: a hostile template cannot hang taskorch or lock
other processes out."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from standins.github import FakeGitHub
from taskorch.config import Settings
from taskorch.errors import InvalidInput
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.store.tables import git_integration_config
from taskorch.sync import mapping, template
from taskorch.sync.template import DEFAULT_TEMPLATE, RenderLimits, check_template, render_body

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}"
#: Time is never what stops these: the clock of the limits below does not move.
NO_TIME_LIMIT = RenderLimits(seconds=1.0, clock=lambda: 0.0)

SAMPLE: dict[str, Any] = {
    "id": 7,
    "title": "Add search",
    "description": "Full-text search over tasks.",
    "task_type": "feature",
    "complexity": "moderate",
    "priority": "high",
    "specialist_type": "implementer",
    "labels": ["search", "backend"],
    "acceptance_criteria": ["finds words", "ranks results"],
    "estimated_effort": "2d",
    "due_date": None,
    "parent_id": None,
}


def refused(source: str, limits: RenderLimits = NO_TIME_LIMIT) -> str:
    with pytest.raises(InvalidInput) as caught:
        render_body(source, SAMPLE, limits)
    assert caught.value.field == "issue_template"
    return str(caught.value)


def test_the_nested_loop_template_is_refused_by_connect(orch: Orchestrator) -> None:
    with pytest.raises(InvalidInput, match=r"issue_template: exceeds its range size bound") as caught:
        orch.git_connect("octo-org/shop", api_token_name="GITHUB_TOKEN", issue_template=NESTED_LOOPS)
    assert "100,000" in str(caught.value)
    with orch.db.transaction(write=False) as conn:
        assert conn.execute(git_integration_config.select()).first() is None


def test_loop_iterations_are_bounded() -> None:
    nested = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    assert "exceeds its loop iterations bound" in refused(nested)
    over_text = "{% for c in description * 100 %}{% for d in description * 100 %}{% endfor %}{% endfor %}"
    assert "exceeds its loop iterations bound" in refused(over_text)


def test_time_is_bounded_by_a_deadline_checked_as_the_render_goes() -> None:
    ticks = itertools.count()
    slow_clock = RenderLimits(seconds=50.0, clock=lambda: float(next(ticks)))  # one second per reading
    assert "exceeds its time bound" in refused("{% for i in range(1000) %}{{ i }}{% endfor %}", slow_clock)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}",
        "{{ 'x' * 1000000000 }}",
        "{{ '%999999999s' % title }}",
        "{{ '{:>999999999}'.format(title) }}",
        "{{ '{:{w}}'.format(title, w=999999999) }}",
        "{{ title|center(1000000000) }}",
        "{{ title.ljust(1000000000) }}",
        "{{ ('x' * 60000)|replace('x', 'y' * 60000) }}",
        "{{ range(10000)|join('x' * 60000) }}",
        "{{ [1]|batch(1000000000, 'x')|list }}",
        "{% macro grow(s, n) %}{{ grow(s ~ s, n - 1) if n else s }}{% endmacro %}{{ grow(title, 100) }}",
    ],
)
def test_output_and_every_value_on_the_way_are_bounded(source: str) -> None:
    assert "exceeds its output size bound" in refused(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% set ns = namespace(s='x') %}{{ ns.s }}",
        "{{ lipsum(100000) }}",
        "{% set items = [] %}{{ items.append(1) }}",
        "{% macro deep(n) %}{{ deep(n + 1) }}{% endmacro %}{{ deep(1) }}",
    ],
)
def test_what_could_accumulate_or_recurse_forever_is_unavailable(source: str) -> None:
    assert "cannot be rendered" in refused(source)


def test_ordinary_templates_render() -> None:
    assert render_body(DEFAULT_TEMPLATE, SAMPLE).startswith("Full-text search over tasks.")
    custom = (
        "{{ title }} ({{ '{:,}'.format(1234567) }}, {{ '%5s' % priority }}): "
        "{% for label in labels %}{{ label|upper }}{{ ', ' if not loop.last }}{% endfor %}"
        "{% for i in range(3) %}.{% endfor %}"
    )
    assert render_body(custom, SAMPLE) == "Add search (1,234,567,  high): SEARCH, BACKEND..."
    check_template(custom)


def _write_lock_free(database_url: str) -> bool:
    """Whether another connection could start writing right now (no waiting)."""
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.fixture
def probe(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Records, at each render, whether a writer could get the database at that moment."""
    seen: list[bool] = []

    def wrap(render: Callable[..., str]) -> Callable[..., str]:
        def probing(*args: Any, **kwargs: Any) -> str:
            seen.append(_write_lock_free(database_url))
            return render(*args, **kwargs)

        return probing

    monkeypatch.setattr(template, "render_body", wrap(template.render_body))
    monkeypatch.setattr(mapping, "render_body", wrap(mapping.render_body))
    yield seen


def test_connect_renders_before_its_write_transaction(orch: Orchestrator, probe: list[bool]) -> None:
    orch.git_connect("octo-org/shop", api_token_name="GITHUB_TOKEN", issue_template="{{ title }}")
    with pytest.raises(InvalidInput, match="range size"):
        orch.git_connect("octo-org/shop", api_token_name="GITHUB_TOKEN", issue_template=NESTED_LOOPS)
    assert probe == [True, True]


def test_sync_and_link_render_outside_write_transactions(
    database_url: str, project: Path, fake_github: FakeGitHub, probe: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPLATE_TEST_TOKEN", "test-token-for-the-fake")
    orch = Orchestrator(
        Settings(database_url=database_url, git_integration="basic", mutation_spacing=0.0),
        platform_factory=lambda config: GitHubPlatform.connect(
            "test-token-for-the-fake", str(config["repository_url"]), transport=fake_github.transport()
        ),
        sleep=lambda _seconds: None,
    )
    orch.initialize_session(str(project))
    orch.git_connect("octo-org/shop", api_token_name="TEMPLATE_TEST_TOKEN", issue_template="{{ title }}!")
    created = orch.plan_task(TaskFields(title="Linked by creation")).task.id
    orch.git_create_issue(created)
    number = next(iter(fake_github.issues))
    fake_github.edit_issue(number, title="Renamed on GitHub")
    orch.git_sync()  # the pull merges the renamed issue
    other = orch.plan_task(TaskFields(title="Linked by hand")).task.id
    made = fake_github.handle(
        httpx.Request(
            "POST",
            "https://api.github.com/repos/octo-org/shop/issues",
            json={"title": "Made on GitHub"},
            headers={"authorization": "Bearer test-token-for-the-fake"},
        )
    )
    orch.git_link_task(other, int(made.json()["number"]))
    orch.close()
    assert len(probe) >= 4 and all(probe), probe
