"""Releasing a Bitbucket Cloud repository whose issues live in Jira: the tag (pushed with git, or
created through Bitbucket's refs API), the Jira version released with the notes, CHANGELOG.md
with Jira keys linked, and the linked key offered for branch names and commit messages.

Jira is a double of its versions handed to the orchestrator through its platform factory; the
Bitbucket side is the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from fakes.jira_doubles import JiraVersions
from git_repo import IDENTITY, commit, git, init_repository
from standins.bitbucket import FakeBitbucket
from taskorch import summaries
from taskorch.config import Settings
from taskorch.errors import Conflict
from taskorch.platforms.base import Platform
from taskorch.platforms.bitbucket import BitbucketPlatform
from taskorch.release.keys import branch_name, issue_key, link_keys
from taskorch.services.app import Orchestrator
from taskorch.services.git import VERSION_DESCRIPTION_BYTES
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.services.release import JIRA_MILESTONE
from taskorch.store.tables import feature_issue_links

SITE = "https://shop.atlassian.net"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = init_repository(tmp_path / "shop", remote=tmp_path / "remote.git")
    commit(root, "feat: first endpoint", "a.txt")
    git(root, "tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    commit(root, "feat(SHOP-12): checkout with saved cards", "b.txt")
    commit(root, "fix: round totals half up (SHOP-13)", "c.txt")
    commit(root, "chore: read files as UTF-8, see [SHOP-14](https://elsewhere.example/SHOP-14)", "d.txt")
    return root


@pytest.fixture
def jira() -> JiraVersions:
    return JiraVersions(SITE, "SHOP")


@pytest.fixture
def bitbucket() -> FakeBitbucket:
    return FakeBitbucket("acme", "shop")


@pytest.fixture
def orch(
    repo: Path,
    database_url: str,
    jira: JiraVersions,
    bitbucket: FakeBitbucket,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Orchestrator]:
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-token")
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-token")

    def factory(config: Any) -> Platform:
        if config["platform"] == "jira":
            return jira
        assert (config["platform"], config["repository_url"]) == ("bitbucket", "https://bitbucket.org/acme/shop")
        return BitbucketPlatform.connect("t", "acme/shop", transport=bitbucket.transport())

    orchestrator = Orchestrator(
        Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0, jira_url=SITE),
        platform_factory=factory,
        sleep=lambda seconds: None,
    )
    orchestrator.initialize_session(str(repo))
    orchestrator.git_connect("bitbucket:acme/shop", jira=SITE, jira_project="SHOP", tier="full")
    yield orchestrator
    orchestrator.close()


def finished_feature(orch: Orchestrator, title: str = "Saved cards") -> int:
    plan = orch.plan_task(TaskFields(title=title, task_type="feature"), [SubtaskSpec(key="impl", title="code")])
    sub = plan.subtasks["impl"].id
    orch.execute_task(sub)
    orch.complete_task(sub, "done")
    orch.synthesize_results(plan.task.id)
    return plan.task.id


def link_to_jira(orch: Orchestrator, task_id: int, key: str) -> None:
    """Record the task's issue as the sync would for a Jira issue."""
    internal = orch.get_task(task_id)
    with orch.db.transaction() as conn:
        row = conn.exec_driver_sql("SELECT id FROM tasks WHERE number = ?", (internal.id,)).one()
        conn.execute(
            insert(feature_issue_links).values(
                task_id=row[0],
                platform="jira",
                repository="SHOP",
                issue_number=int(key.split("-")[1]),
                issue_url=f"{SITE}/browse/{key}",
                sync_status="synced",
                idempotency_key=f"test-{key}",
                intent_at=orch.clock(),
                base={},
                remote={},
            )
        )


def test_changelog_links_the_projects_jira_keys(orch: Orchestrator, repo: Path) -> None:
    done = finished_feature(orch)
    link_to_jira(orch, done, "SHOP-7")
    orch.release_plan("0.2.0", included_features=[done])
    section = orch.release_changelog("0.2.0", "automated", True, None).changelog or ""
    assert f"**[SHOP-12]({SITE}/browse/SHOP-12):** checkout with saved cards" in section
    assert f"round totals half up ([SHOP-13]({SITE}/browse/SHOP-13))" in section
    assert "UTF-8" in section and "UTF-8](" not in section
    assert "[SHOP-14](https://elsewhere.example/SHOP-14)" in section  # a link already there is kept
    assert f"Saved cards ([SHOP-7]({SITE}/browse/SHOP-7))" in section  # the task's issue, by its key
    assert f"[SHOP-12]({SITE}/browse/SHOP-12)" in (repo / "CHANGELOG.md").read_text()


def test_release_tags_pushes_and_releases_the_jira_version(
    orch: Orchestrator, repo: Path, tmp_path: Path, jira: JiraVersions, bitbucket: FakeBitbucket
) -> None:
    done = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[done])
    orch.release_changelog("0.2.0", "automated", True, None)
    git(repo, "add", "CHANGELOG.md")
    git(repo, "commit", "-q", "-m", "docs: changelog for v0.2.0")

    planned = orch.release_tag("0.2.0", push=True, dry_run=True)
    assert {s.step: s.status for s in planned.steps or []}["milestone"] == "skipped"
    result = orch.release_tag("0.2.0", push=True)
    steps = {s.step: s for s in result.steps or []}
    assert [s for s, step in steps.items() if step.status == "done"] == ["notes", "tag", "push", "release", "complete"]
    assert steps["milestone"].detail == JIRA_MILESTONE
    said = steps["release"].detail
    assert "Jira version v0.2.0 created and released" in said
    assert "a Bitbucket repository has no release object" in said and "https://bitbucket.org/acme/shop" in said

    sha = git(repo, "rev-parse", "HEAD")
    assert git(tmp_path / "remote.git", "rev-parse", "v0.2.0^{commit}") == sha
    [version] = jira.versions.values()
    assert (version.title, version.state) == ("v0.2.0", "closed")
    assert f"[SHOP-12]({SITE}/browse/SHOP-12)" in version.description
    assert result.release.release_url == version.url and result.release.platform_milestone_id == version.number
    assert bitbucket.requests == []  # git pushed the tag; Bitbucket's API was not needed
    assert [c for c, _ in jira.calls if c != "close"] == ["list_milestones", "create_milestone", "update_milestone"]


def test_an_existing_version_is_released_once_and_a_rerun_resumes(
    orch: Orchestrator, repo: Path, jira: JiraVersions
) -> None:
    done = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[done])
    made = jira.create_milestone("v0.2.0", "planned in Jira", None)
    orch.release_tag("0.2.0")
    assert list(jira.versions) == [made.number] and jira.versions[made.number].state == "closed"
    with pytest.raises(Conflict, match="completed already"):
        orch.release_tag("0.2.0")


def test_the_tag_goes_through_bitbucket_refs_api_when_asked(
    orch: Orchestrator, repo: Path, tmp_path: Path, bitbucket: FakeBitbucket
) -> None:
    done = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[done])
    sha = git(repo, "rev-parse", "HEAD")
    bitbucket.add_commit("feat: pushed earlier", sha=sha)
    result = orch.release_tag("0.2.0", push=True, via_api=True)
    push = next(s for s in result.steps or [] if s.step == "push")
    assert push.detail == "v0.2.0 created on Bitbucket (acme/shop) through the refs API"
    assert bitbucket.tags["v0.2.0"]["target"] == sha
    assert bitbucket.tags["v0.2.0"]["message"].startswith("Release v0.2.0")
    assert [(r.method, r.path) for r in bitbucket.mutations()] == [("POST", "/2.0/repositories/acme/shop/refs/tags")]
    assert git(tmp_path / "remote.git", "tag", "--list") == ""  # nothing pushed with git


def test_the_api_refuses_a_tag_of_that_name_on_another_commit(
    orch: Orchestrator, repo: Path, bitbucket: FakeBitbucket
) -> None:
    done = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[done])
    elsewhere = bitbucket.add_commit("feat: somebody else's")
    bitbucket.tags["v0.2.0"] = {"target": elsewhere, "message": "theirs", "date": orch.clock()}
    with pytest.raises(Conflict, match=rf"Bitbucket has the tag v0\.2\.0 on {elsewhere[:12]}"):
        orch.release_tag("0.2.0", push=True, via_api=True)


def test_execute_task_offers_the_jira_key_for_branch_and_commits(orch: Orchestrator) -> None:
    task = orch.plan_task(TaskFields(title="Add the saved-card checkout", task_type="feature")).task.id
    link_to_jira(orch, task, "SHOP-12")
    shown = orch.show_task(task)
    assert shown.jira_key == "SHOP-12"
    started = orch.execute_task(task)
    assert started.jira_key == "SHOP-12"
    text = summaries.execute(started)
    assert "Jira issue SHOP-12: branch shop-12-add-the-saved-card-checkout; start commit messages with SHOP-12." in text
    other = orch.plan_task(TaskFields(title="No issue")).task.id
    assert orch.execute_task(other).jira_key is None and "Jira issue" not in summaries.execute(
        orch.execute_task(other, force=True)
    )


def test_cli_show_names_the_branch_and_commit_prefix(
    orch: Orchestrator, repo: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = orch.plan_task(TaskFields(title="Saved cards")).task.id
    link_to_jira(orch, task, "SHOP-12")
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    from typer.testing import CliRunner

    from taskorch.cli import app as cli_module

    monkeypatch.setattr(cli_module.out, "width", 400)  # one table row on one line
    shown = CliRunner().invoke(cli_module.app, ["show", str(task), "--project", str(repo)])
    assert shown.exit_code == 0, shown.stderr
    assert "shop-12-saved-cards; start messages with SHOP-12" in " ".join(shown.stdout.split())


def test_notes_longer_than_a_version_description_are_cut_at_a_line(
    orch: Orchestrator, repo: Path, jira: JiraVersions
) -> None:
    done = finished_feature(orch)
    orch.release_plan("0.2.0", included_features=[done])
    long_notes = "\n".join(f"- change number {n} with ünïcödé text" for n in range(1000))
    orch.release_changelog("0.2.0", "hybrid", False, long_notes)
    orch.release_tag("0.2.0")
    [version] = jira.versions.values()
    assert len(version.description.encode()) <= VERSION_DESCRIPTION_BYTES
    assert version.description.endswith("(cut: the full notes are in CHANGELOG.md)")
    assert "- change number 0 with ünïcödé text" in version.description


def test_release_with_the_jira_adapter_against_the_jira_stand_in(
    repo: Path, database_url: str, bitbucket: FakeBitbucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standins.jira import FakeJira
    from taskorch.platforms.jira import JiraPlatform

    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    fake_jira = FakeJira("SHOP")
    site = fake_jira.site_url

    def factory(config: Any) -> Platform:
        if config["platform"] == "jira":
            return JiraPlatform.connect("t", "SHOP", site_url=site, transport=fake_jira.transport())
        return BitbucketPlatform.connect("t", "acme/shop", transport=bitbucket.transport())

    orchestrator = Orchestrator(
        Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0, jira_url=site),
        platform_factory=factory,
        sleep=lambda seconds: None,
    )
    try:
        orchestrator.initialize_session(str(repo))
        orchestrator.git_connect("bitbucket:acme/shop", jira=f"{site}/browse/SHOP", tier="full")
        done = finished_feature(orchestrator)
        orchestrator.release_plan("0.2.0", included_features=[done])
        result = orchestrator.release_tag("0.2.0")
    finally:
        orchestrator.close()
    [version] = fake_jira.versions.values()
    assert (version["name"], version["released"]) == ("v0.2.0", True)
    assert "SHOP-12" in version["description"]
    assert result.release.release_url is not None and result.release.release_url.startswith(site)


def test_keys_helpers() -> None:
    assert issue_key("jira", "SHOP", 3, f"{SITE}/browse/SHOP-12") == "SHOP-12"
    assert issue_key("jira", f"{SITE}/browse/SHOP", 3, None) == "SHOP-3"
    assert issue_key("github", "octo/shop", 3, "https://github.com/octo/shop/issues/3") is None
    assert (
        branch_name("SHOP-12", "Zahlung über PayPal: schneller & sicher!")
        == "shop-12-zahlung-uber-paypal-schneller-sicher"
    )
    assert len(branch_name("SHOP-1", "word " * 40)) <= 50
    assert (
        link_keys("SHOP-1, ASHOP-2, SHOP-3x, x/SHOP-4", SITE, "SHOP")
        == f"[SHOP-1]({SITE}/browse/SHOP-1), ASHOP-2, SHOP-3x, x/SHOP-4"
    )
