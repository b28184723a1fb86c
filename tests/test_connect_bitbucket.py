"""Connecting a Bitbucket Cloud repository with its Jira Cloud project (and Jira alone, or Jira
with GitHub code): the CLI through Typer's runner, the MCP tool through the in-memory client, how
the connection is stored (revision 0010) and how the factory builds each side."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio
import httpx
import pytest
from alembic import command
from alembic.config import Config
from mcp import Client
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner, Result

from taskorch.config import Settings
from taskorch.errors import InvalidInput
from taskorch.mcp.server import build_server
from taskorch.platforms import registry
from taskorch.platforms.base import Platform, RepositoryRef
from taskorch.platforms.bitbucket import BitbucketPlatform
from taskorch.platforms.registry import jira_reference, platform_spec, stored_reference
from taskorch.services.git import code_host_of, default_platform_factory
from taskorch.store.db import HEAD_REVISION, Database

SITE = "https://shop.atlassian.net"


# -- references ------------------------------------------------------------------------------------


def test_jira_references_and_their_stored_form(settings: Settings) -> None:
    configured = Settings(database_url=settings.database_url, jira_url=SITE)
    for jira, project in [
        (SITE, "shop"),
        (f"{SITE}/browse/SHOP", None),
        (f"{SITE}/browse/SHOP-12", "SHOP"),
        (f"{SITE}/jira/software/projects/SHOP/boards/1", None),
        ("SHOP", None),
        (None, "SHOP"),
    ]:
        ref = jira_reference(jira, project, settings=configured)
        assert ref == RepositoryRef(platform="jira", host="shop.atlassian.net", path="SHOP"), (jira, project)
    assert registry.jira_url(ref, configured) == f"{SITE}/browse/SHOP"
    assert stored_reference("jira", f"{SITE}/browse/SHOP", configured) == ref
    local = Settings(database_url=settings.database_url, jira_url="http://127.0.0.1:4030")
    assert registry.jira_url(jira_reference(None, "SHOP", settings=local), local) == "http://127.0.0.1:4030/browse/SHOP"
    bitbucket = stored_reference("bitbucket", "https://bitbucket.org/acme/shop", settings)
    assert bitbucket == RepositoryRef(platform="bitbucket", host="bitbucket.org", path="acme/shop")


@pytest.mark.parametrize(
    ("jira", "project", "field"),
    [
        (None, "SHOP", "jira"),  # no site anywhere
        (SITE, None, "jira_project"),
        (f"{SITE}/browse/SHOP", "WEB", "jira_project"),
        (f"{SITE}/wiki/spaces", None, "jira"),
        ("ftp://shop.atlassian.net", "SHOP", "jira"),
        (SITE, "9LIVES", "jira_project"),
    ],
)
def test_a_jira_reference_that_names_no_single_project_is_refused(
    settings: Settings, jira: str | None, project: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        jira_reference(jira, project, settings=settings)
    assert refused.value.field == field


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, project: Path) -> Iterator[Any]:
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app_(), [*args, "--project", str(project)])

    yield invoke


def app_() -> Any:
    from taskorch.cli.app import app

    return app


def connected(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output + result.stderr
    config: dict[str, Any] = json.loads(result.stdout)["config"]
    return config


def test_cli_connects_bitbucket_code_with_jira_issues(cli: Any, database_url: str) -> None:
    config = connected(
        cli(
            "git",
            "connect",
            "bitbucket:acme/shop",
            "--jira",
            SITE,
            "--jira-project",
            "SHOP",
            "--tier",
            "full",
            "--json",
        )
    )
    assert (config["platform"], config["repository"], config["api_token_name"]) == (
        "jira",
        f"{SITE}/browse/SHOP",
        "JIRA_API_TOKEN",
    )
    assert config["code_host"] == "https://bitbucket.org/acme/shop"
    db = Database(database_url)
    with db.transaction(write=False) as conn:
        row = conn.execute(
            text(
                "SELECT platform, repository_url, code_platform, code_repository, code_token_name "
                "FROM git_integration_config"
            )
        ).one()
    db.dispose()
    assert tuple(row) == (
        "jira",
        f"{SITE}/browse/SHOP",
        "bitbucket",
        "https://bitbucket.org/acme/shop",
        "BITBUCKET_TOKEN",
    )
    shown = cli(
        "git",
        "connect",
        "https://bitbucket.org/acme/shop",
        "--jira",
        f"{SITE}/browse/SHOP",
        "--code-token-name",
        "BB_TOKEN",
    )
    assert shown.exit_code == 0, shown.stderr
    said = " ".join(shown.stdout.split())
    assert "on Jira Cloud:" in said and "code, tags and releases on https://bitbucket.org/acme/shop" in said


def test_cli_refuses_bitbucket_issues_and_says_to_pass_jira(cli: Any) -> None:
    refused = cli("git", "connect", "bitbucket:acme/shop")
    assert refused.exit_code == 2
    said = " ".join(refused.stderr.split())
    assert "issue tracker no longer exists" in said and "2026-08-20" in said
    assert "taskorch git connect bitbucket:acme/shop --jira https://SITE.atlassian.net/browse/KEY" in said


def test_cli_connects_jira_alone_or_with_github_code(cli: Any) -> None:
    alone = connected(cli("git", "connect", "jira:shop", "--jira", SITE, "--json"))
    assert (alone["platform"], alone["repository"], alone["code_host"]) == ("jira", f"{SITE}/browse/SHOP", None)
    github = connected(cli("git", "connect", "octo-org/shop", "--jira", f"{SITE}/browse/SHOP", "--json"))
    assert (github["platform"], github["code_host"]) == ("jira", "github:octo-org/shop")
    pasted = connected(cli("git", "connect", f"{SITE}/browse/SHOP-12", "--json"))
    assert (pasted["platform"], pasted["repository"], pasted["code_host"]) == ("jira", f"{SITE}/browse/SHOP", None)
    clash = cli("git", "connect", "jira:SHOP", "--jira", SITE, "--jira-project", "WEB")
    assert clash.exit_code == 2 and "--jira-project" in clash.stderr


# -- MCP -------------------------------------------------------------------------------------------


async def _tool(client: Client, args: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    result = await client.call_tool("orchestrator_git_integration", {"action": "connect", **args})
    words = " ".join(" ".join(getattr(block, "text", "") for block in result.content).split())
    return result.is_error, words, result.structured_content or {}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_mcp_connects_bitbucket_with_the_jira_argument(mode: str, database_url: str, project: Path) -> None:
    settings = Settings(database_url=database_url, git_integration="full", jira_url=SITE)

    async def scenario() -> None:
        async with Client(build_server(settings), mode=mode) as client:
            await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
            failed, said, _ = await _tool(client, {"repository": "bitbucket:acme/shop"})
            assert failed and "issue tracker no longer exists" in said
            assert (
                "orchestrator_git_integration with action=connect, repository=bitbucket:acme/shop, "
                "jira=https://SITE.atlassian.net/browse/KEY" in said
            )
            assert "--jira" not in said
            failed, said, _ = await _tool(
                client, {"repository": "bitbucket:acme/shop", "jira": "https://evil.example/browse/SHOP"}
            )
            assert failed and "evil.example is not the Jira Cloud host" in said and "TASKORCH_JIRA_URL" in said
            failed, said, done = await _tool(
                client, {"repository": "bitbucket:acme/shop", "jira": f"{SITE}/browse/SHOP"}
            )
            assert not failed, said
            assert (done["config"]["platform"], done["config"]["code_host"]) == (
                "jira",
                "https://bitbucket.org/acme/shop",
            )
            failed, said, done = await _tool(client, {"repository": "jira:SHOP"})
            assert not failed and done["config"].get("code_host") is None, said

    anyio.run(scenario)


# -- storage and factories ------------------------------------------------------------------------


def test_revision_0010_upgrades_a_0009_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", "taskorch.store:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009_team_sync")
        conn.execute(
            text(
                "INSERT INTO sessions (id, name, project_root, created_at, last_active_at) "
                "VALUES (1, 'p', '/p', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO git_integration_config (session_id, platform, repository_url, api_token_name, "
                "default_labels, auto_sync_enabled, tier, conflict_policy, progress_comments, status_mapping, "
                "created_at, updated_at) VALUES (1, 'github', 'octo-org/shop', 'GITHUB_TOKEN', '[]', 0, 'basic', "
                "'manual', 0, '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    db = Database(url)
    db.ensure_schema()
    assert db.current_revision() == HEAD_REVISION
    with db.engine.connect() as conn:
        columns = {c["name"]: c["nullable"] for c in inspect(conn).get_columns("git_integration_config")}
        kept = conn.execute(
            text("SELECT platform, repository_url, code_platform, code_repository FROM git_integration_config")
        ).one()
    assert tuple(kept) == ("github", "octo-org/shop", None, None)
    assert [columns[name] for name in ("code_platform", "code_repository", "code_token_name")] == [True] * 3
    db.dispose()


def test_the_factory_builds_jira_for_issues_and_bitbucket_for_code(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("BITBUCKET_TOKEN", "bb-secret")
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-secret")
    built: list[tuple[str, RepositoryRef, str]] = []

    def build_jira(
        token: str, ref: RepositoryRef, base_url: str, settings: Settings, status_mapping: Mapping[str, str]
    ) -> Platform:
        built.append((token, ref, base_url))
        return BitbucketPlatform.connect("x", "a/b")  # any Platform: what is asserted is the call

    monkeypatch.setattr(
        registry,
        "PLATFORMS",
        MappingProxyType({**registry.PLATFORMS, "jira": dataclasses.replace(platform_spec("jira"), build=build_jira)}),
    )
    configured = Settings(database_url=settings.database_url, bitbucket_username="ada@example.com")
    row = {
        "platform": "jira",
        "repository_url": f"{SITE}/browse/SHOP",
        "api_token_name": "JIRA_API_TOKEN",
        "code_platform": "bitbucket",
        "code_repository": "https://bitbucket.org/acme/shop",
        "code_token_name": "BITBUCKET_TOKEN",
    }
    factory = default_platform_factory(configured)
    factory(row).close()
    assert built == [("jira-secret", RepositoryRef("jira", "shop.atlassian.net", "SHOP"), "https://shop.atlassian.net")]
    code_row = code_host_of(row)
    assert code_row is not None and code_host_of({**row, "code_platform": None}) is None
    code = factory(code_row)
    assert isinstance(code, BitbucketPlatform) and code.repository == "acme/shop"
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404)

    code._client._transport = httpx.MockTransport(answer)  # the factory's client, offline
    assert code.get_tag("v1") is None
    assert str(seen[0].url) == "https://api.bitbucket.org/2.0/repositories/acme/shop/refs/tags/v1"
    assert seen[0].headers["authorization"].startswith("Basic ")
    code.close()


def test_the_cli_maps_a_status_to_a_workflow_status_of_its_own(cli: Any) -> None:
    config = connected(
        cli("git", "connect", "jira:SHOP", "--jira", SITE, "--status-map", "blocked=In Progress", "--json")
    )
    assert config["status_mapping"]["blocked"] == "In Progress"
    refused = cli("git", "connect", "jira:SHOP", "--jira", SITE, "--status-map", "blocked")
    assert refused.exit_code == 2
    assert "--status-map: 'blocked' is not KEY=VALUE" in refused.stderr and "blocked=In Progress" in refused.stderr
