"""Release coordination never writes through a link out of the project, and never lets a ref,
commit or remote from a caller be read by git as an option."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from git_repo import IDENTITY, commit, git, init_repository
from taskorch.cli.app import app
from taskorch.config import Settings
from taskorch.errors import Conflict, InvalidInput
from taskorch.release.git import GitRepo, check_remote_name
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    root = init_repository(tmp_path / "shop", remote=tmp_path / "remote.git")
    commit(root, "feat: first endpoint", "a.txt")
    git(root, "tag", "-a", "v0.1.0", "-m", "Release v0.1.0")
    commit(root, "fix: second", "b.txt")
    return root


@pytest.fixture
def orch(repo: Path, database_url: str) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(Settings(database_url=database_url, git_integration="full"))
    orchestrator.initialize_session(str(repo))
    task = orchestrator.plan_task(TaskFields(title="Second endpoint", task_type="feature")).task.id
    orchestrator.execute_task(task)
    orchestrator.complete_task(task, "done")
    orchestrator.release_plan("0.2.0", included_features=[task])
    yield orchestrator
    orchestrator.close()


def test_a_changelog_linked_outside_the_project_is_refused_and_left_alone(
    repo: Path, orch: Orchestrator, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("not the project's\n")
    (repo / "CHANGELOG.md").symlink_to(outside)
    git(repo, "add", "CHANGELOG.md")
    git(repo, "commit", "-q", "-m", "chore: link")
    with pytest.raises(Conflict, match=r"CHANGELOG\.md in the project is a symbolic link"):
        orch.release_changelog("0.2.0", write=True)
    assert outside.read_text() == "not the project's\n"
    assert (repo / "CHANGELOG.md").is_symlink()
    assert orch.release_plan("0.2.0").release.notes is None  # nothing recorded either


def test_a_hard_linked_changelog_is_refused(repo: Path, orch: Orchestrator, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("shared\n")
    os.link(outside, repo / "CHANGELOG.md")
    with pytest.raises(Conflict, match="hard link"):
        orch.release_changelog("0.2.0", write=True)
    assert outside.read_text() == "shared\n"


def test_a_regular_changelog_is_written_in_place(repo: Path, orch: Orchestrator) -> None:
    result = orch.release_changelog("0.2.0", write=True)
    assert result.changelog_path == "CHANGELOG.md"
    text = (repo / "CHANGELOG.md").read_text()
    assert "## [v0.2.0]" in text and not (repo / "CHANGELOG.md").is_symlink()
    assert [p.name for p in repo.iterdir() if p.name.startswith(".CHANGELOG.")] == []


def test_a_remote_that_is_an_option_never_runs(repo: Path, orch: Orchestrator, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    hostile = f"--upload-pack=touch {planted}"
    with pytest.raises(InvalidInput, match="remote: is not a remote name"):
        GitRepo(repo).remote_has_tag(hostile, "v0.1.0")
    with pytest.raises(InvalidInput, match="remote: is not a remote name"):
        GitRepo(repo).push_tag(hostile, "v0.1.0")
    with pytest.raises(InvalidInput, match="remote"):
        orch.release_tag("0.2.0", push=True, remote=hostile)
    assert not planted.exists()
    assert orch.release_plan("0.2.0").release.tag_sha is None


def test_the_cli_refuses_a_remote_that_is_an_option(
    repo: Path, orch: Orchestrator, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    planted = tmp_path / "planted"
    result = CliRunner().invoke(
        app, ["release", "tag", "0.2.0", "--push", "--remote", f"--upload-pack=touch {planted}", "-C", str(repo)]
    )
    assert result.exit_code == 2, result.output
    assert "remote" in result.stderr and not planted.exists()
    assert git(repo, "tag", "--list", "v0.2.0") == ""


@pytest.mark.parametrize("name", ["origin", "upstream", "team/fork", "my-remote.2", "_x"])
def test_remote_names_git_accepts_pass(name: str) -> None:
    assert check_remote_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-x", "--upload-pack=x", ".hidden", "a b", "a\tb", "a..b", "x.lock", "a/", "ext::sh"]
)
def test_remote_names_that_are_not_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="remote"):
        check_remote_name(name)


def test_a_commit_starting_with_a_dash_is_never_an_option(repo: Path, orch: Orchestrator, tmp_path: Path) -> None:
    planted = tmp_path / "planted.txt"
    hostile = f"--output={planted}"
    with pytest.raises(InvalidInput, match="commit"):
        orch.release_tag("0.2.0", commit=hostile)
    with pytest.raises(InvalidInput, match="commit"):
        orch.release_changelog("0.2.0", commit=hostile)
    with pytest.raises(InvalidInput, match="commit"):
        GitRepo(repo).commits(None, hostile)
    assert not planted.exists()
    assert GitRepo(repo).tag_target("--output=x") is None  # a ref that names nothing, not an option
