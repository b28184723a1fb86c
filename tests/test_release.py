"""Release coordination against a real Git repository (with a bare repository as its remote) and
the GitHub stand-in for milestones and releases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from git_repo import IDENTITY, commit, git, init_repository
from standins.github import FakeGitHub
from taskorch.cli.words import CLI_WORDS
from taskorch.config import Settings
from taskorch.errors import Conflict, InvalidInput
from taskorch.mcp.words import MCP_WORDS
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields

TOKEN_NAME = "RELEASE_TEST_TOKEN"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project with history: v0.1.0 tagged, then Conventional Commits, and a bare remote."""
    root = init_repository(tmp_path / "shop", remote=tmp_path / "remote.git")
    commit(root, "feat: first endpoint", "a.txt")
    git(root, "tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    commit(root, "feat(login): rate limit failed logins", "b.txt")
    commit(root, "fix: answer 429 with Retry-After", "c.txt")
    commit(root, "docs: explain the limits", "d.txt")
    commit(root, "Tidy the imports", "e.txt")
    commit(root, "feat(api)!: drop the v1 endpoints\n\nBREAKING CHANGE: v1 is gone", "f.txt")
    return root


@pytest.fixture
def orch(repo: Path, database_url: str, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(TOKEN_NAME, "test-token-for-the-fake")
    # The annotated tag needs an identity, which a fresh machine's git may lack.
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    orchestrator = Orchestrator(
        Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0),
        platform_factory=lambda config: GitHubPlatform.connect(
            "test-token-for-the-fake", str(config["repository_url"]), transport=fake_github.transport()
        ),
        sleep=lambda seconds: None,
    )
    orchestrator.initialize_session(str(repo))
    orchestrator.git_connect("octo-org/shop", api_token_name=TOKEN_NAME, tier="full", auto_sync_enabled=True)
    yield orchestrator
    orchestrator.close()


def finished_feature(orch: Orchestrator, title: str = "Login rate limiting", **fields: Any) -> int:
    plan = orch.plan_task(TaskFields(title=title, **fields), [SubtaskSpec(key="impl", title=f"{title}: code")])
    sub = plan.subtasks["impl"].id
    orch.execute_task(sub)
    orch.complete_task(sub, "done")
    orch.synthesize_results(plan.task.id)
    return plan.task.id


# -- plan_release --------------------------------------------------------------------------


def test_plan_proposes_the_next_version_and_reports_readiness(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    done = finished_feature(orch)
    unfinished = orch.plan_task(TaskFields(title="Audit log", task_type="feature")).task.id
    orch.git_sync()
    result = orch.release_plan(included_features=[done, unfinished])
    # Previous v0.1.0; a breaking commit in a 0.x series bumps MINOR.
    assert result.release.name == "v0.2.0" and result.release.version == "0.2.0"
    assert result.version_reason is not None and "breaking" in result.version_reason
    assert result.release.previous_tag == "v0.1.0"
    readiness = result.readiness
    assert readiness is not None and not readiness.ready
    assert {t.id for t in readiness.open} == {unfinished}
    assert done in {t.id for t in readiness.done}
    assert readiness.without_issue == []
    again = orch.release_plan("0.2.0", included_features=[done], description="Rate limits")
    assert again.readiness is not None and again.readiness.ready
    assert again.release.included_features == [done] and again.release.description == "Rate limits"


@pytest.mark.parametrize("version", ["1.2", "banana", "v1.2.3.4", "01.2.3", "1.2.3-"])
def test_invalid_versions_are_refused(orch: Orchestrator, version: str) -> None:
    with pytest.raises(InvalidInput, match=r"Semantic Version") as info:
        orch.release_plan(version)
    assert info.value.field == "release_version"


def test_an_existing_tag_is_refused(orch: Orchestrator) -> None:
    with pytest.raises(Conflict, match=r"v0\.1\.0 already exists"):
        orch.release_plan("0.1.0")


# -- milestone ------------------------------------------------------------------------------


def test_create_milestone_assigns_the_issues_and_is_idempotent(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    done = finished_feature(orch)
    orch.git_sync()
    orch.release_plan("0.2.0", included_features=[done], target_date=None, description="Rate limits")
    first = orch.release_milestone("0.2.0")
    second = orch.release_milestone("0.2.0")
    assert [m["title"] for m in fake_github.milestones.values()] == ["v0.2.0"]
    number = first.release.platform_milestone_id
    assert number is not None and second.release.platform_milestone_id == number
    issue = next(i for i in fake_github.issues.values() if i["title"] == "Login rate limiting")
    assert issue["milestone"] is not None and issue["milestone"]["number"] == number
    assert orch.get_task(done).milestone == "v0.2.0"


# -- changelog ------------------------------------------------------------------------------


def test_changelog_groups_tasks_and_commits_and_keeps_earlier_entries(
    orch: Orchestrator, repo: Path, fake_github: FakeGitHub
) -> None:
    feature = finished_feature(orch)
    fix = finished_feature(orch, "Crash on empty password", task_type="bugfix")
    orch.git_sync()
    (repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [v0.1.0] - 2026-01-01\n\n### Added\n\n- First endpoint\n"
    )
    git(repo, "add", "CHANGELOG.md")
    git(repo, "commit", "-q", "-m", "chore: start a changelog")
    orch.release_plan("0.2.0", included_features=[feature, fix])
    result = orch.release_changelog("0.2.0", "automated", write=True)
    text = (repo / "CHANGELOG.md").read_text()
    assert result.changelog_path == "CHANGELOG.md"
    assert text.index("## [v0.2.0]") < text.index("## [v0.1.0]") and "- First endpoint" in text
    section = result.changelog or ""
    breaking = section.split("### Breaking changes")[1].split("###")[0]
    assert "**api:** drop the v1 endpoints" in breaking
    added = section.split("### Added")[1].split("###")[0]
    issue = next(i for i in fake_github.issues.values() if i["title"] == "Login rate limiting")
    assert f"Login rate limiting ([#{issue['number']}]({issue['html_url']}))" in added
    assert "**login:** rate limit failed logins" in added
    fixed = section.split("### Fixed")[1].split("###")[0]
    assert "Crash on empty password" in fixed and "answer 429 with Retry-After" in fixed
    assert "explain the limits" in section.split("### Documentation")[1]
    assert "Tidy the imports" in section.split("### Changed")[1]
    assert "first endpoint" not in section  # before the previous tag
    # Regenerating replaces this release's section only.
    orch.release_changelog("0.2.0", "automated", write=True)
    again = (repo / "CHANGELOG.md").read_text()
    assert again.count("## [v0.2.0]") == 1 and again.count("## [v0.1.0]") == 1


def test_manual_and_hybrid_templates(orch: Orchestrator, repo: Path) -> None:
    feature = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[feature])
    manual = orch.release_changelog("0.2.0", "manual").changelog or ""
    assert "### Added\n\n- \n" in manual and "<!-- Login rate limiting (task" in manual
    orch.release_changelog("0.2.0", "hybrid", write=True, notes="Upgrade the clients before the server.")
    text = (repo / "CHANGELOG.md").read_text()
    assert "### Notes\n\nUpgrade the clients before the server." in text
    regenerated = orch.release_changelog("0.2.0", "hybrid", write=True).changelog or ""
    assert "Upgrade the clients before the server." in regenerated  # kept from the file
    assert "Login rate limiting" in regenerated


# -- tag_release ----------------------------------------------------------------------------


def test_tag_release_refuses_a_dirty_tree_and_open_work(orch: Orchestrator, repo: Path) -> None:
    feature = finished_feature(orch)
    blocker = orch.plan_task(TaskFields(title="Security review")).task.id
    orch.release_plan("0.2.0", included_features=[feature, blocker])
    (repo / "scratch.txt").write_text("wip")
    with pytest.raises(Conflict, match=r"uncommitted changes \(scratch.txt\)"):
        orch.release_tag("0.2.0")
    (repo / "scratch.txt").unlink()
    with pytest.raises(Conflict, match=f"task {blocker} 'Security review' is pending") as info:
        orch.release_tag("0.2.0")
    assert "force=true" in info.value.render(MCP_WORDS)
    assert "--force" in info.value.render(CLI_WORDS)
    assert git(repo, "tag", "--list", "v0.2.0") == ""


def test_dry_run_shows_every_step_and_does_none(orch: Orchestrator, repo: Path, fake_github: FakeGitHub) -> None:
    feature = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[feature])
    orch.release_milestone("0.2.0")
    result = orch.release_tag("0.2.0", push=True, dry_run=True)
    assert [(s.step, s.status) for s in result.steps] == [
        ("notes", "planned"),
        ("tag", "planned"),
        ("push", "planned"),
        ("release", "planned"),
        ("milestone", "planned"),
        ("complete", "planned"),
    ]
    assert git(repo, "tag", "--list", "v0.2.0") == "" and fake_github.releases == {}
    assert result.release.status == "active"


def test_tag_release_tags_pushes_publishes_and_closes(orch: Orchestrator, repo: Path, fake_github: FakeGitHub) -> None:
    feature = finished_feature(orch)
    orch.git_sync()
    orch.release_plan("0.2.0", included_features=[feature])
    orch.release_milestone("0.2.0")
    orch.release_changelog("0.2.0", "automated", write=True)
    git(repo, "add", "CHANGELOG.md")
    git(repo, "commit", "-q", "-m", "chore: changelog for v0.2.0")
    head = git(repo, "rev-parse", "HEAD")
    result = orch.release_tag("0.2.0", push=True)
    assert [s.status for s in result.steps] == ["done"] * 6
    assert git(repo, "cat-file", "-t", "v0.2.0") == "tag"  # annotated
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == head
    remote = git(repo, "ls-remote", "--tags", "origin", "refs/tags/v0.2.0")
    assert remote.endswith("refs/tags/v0.2.0")
    [release] = fake_github.releases.values()
    assert release["tag_name"] == "v0.2.0" and "Login rate limiting" in release["body"]
    milestone = next(m for m in fake_github.milestones.values() if m["title"] == "v0.2.0")
    assert milestone["state"] == "closed"
    assert result.release.status == "completed" and result.release.release_url == release["html_url"]
    with pytest.raises(Conflict, match="completed"):
        orch.release_tag("0.2.0")


def test_a_lost_release_answer_is_finished_on_the_next_run(
    orch: Orchestrator, repo: Path, fake_github: FakeGitHub
) -> None:
    feature = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[feature])
    fake_github.inject("drop_after", method="POST", path=r"/releases$", times=1)
    fake_github.inject("503", method="GET", path=r"/releases/tags/", times=6)
    with pytest.raises(Exception, match=r"503|reach|unavailable"):
        orch.release_tag("0.2.0")
    rerun = orch.release_tag("0.2.0")
    assert [s.status for s in rerun.steps[:2]] == ["resumed", "resumed"]
    assert len(fake_github.releases) == 1
    assert git(repo, "tag", "--list", "v0.2.*") == "v0.2.0"
    assert rerun.release.status == "completed"


@pytest.mark.slow
def test_killed_between_the_tag_and_the_release(
    repo: Path, database_url: str, fake_github: FakeGitHub, orch: Orchestrator
) -> None:
    feature = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[feature])
    fake_github.inject("timeout", method="POST", path=r"/releases$", times=1)  # the request hangs
    with fake_github.serve() as url:
        env = {
            **os.environ,
            "TASKORCH_DATABASE_URL": database_url,
            "TASKORCH_GITHUB_API_URL": url,
            "TASKORCH_MUTATION_SPACING": "0",
            TOKEN_NAME: "test-token-for-the-fake",
        }
        code = (
            "import sys\nfrom taskorch.services.app import Orchestrator\n"
            "o = Orchestrator(); o.initialize_session(sys.argv[1]); o.release_tag('0.2.0')\n"
        )
        worker = subprocess.Popen(
            [sys.executable, "-c", code, str(repo)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while git(repo, "tag", "--list", "v0.2.0") != "v0.2.0":
            assert worker.poll() is None and time.monotonic() < deadline, "the worker ended before tagging"
            time.sleep(0.05)
        while not any(r.path.endswith("/releases") and r.method == "POST" for r in fake_github.requests):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert fake_github.releases == {}
    rerun = orch.release_tag("0.2.0")
    steps = {s.step: s.status for s in rerun.steps}
    assert steps["tag"] == "resumed" and steps["release"] == "done"
    assert git(repo, "tag", "--list", "v0.2.*") == "v0.2.0"
    assert len(fake_github.releases) == 1


def test_tag_release_keeps_the_notes_written_before(orch: Orchestrator, repo: Path, fake_github: FakeGitHub) -> None:
    feature = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[feature])
    orch.release_changelog("0.2.0", "hybrid", notes="Read this before upgrading.")
    result = orch.release_tag("0.2.0")
    assert result.steps[0].detail == "hybrid notes kept"
    [release] = fake_github.releases.values()
    assert "Read this before upgrading." in release["body"]
    assert "Read this before upgrading." in git(repo, "tag", "-n20", "--list", "v0.2.0")
