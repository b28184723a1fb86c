"""Token names: a value that looks like a token is refused without being repeated, stored,
audited or returned; an assistant (MCP) may only name the tokens the user allows, the CLI any.

Every "token" here is fake and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from sqlalchemy import select
from typer.testing import CliRunner

from taskorch.cli.app import app
from taskorch.config import DEFAULT_ALLOWED_TOKEN_NAMES, Settings
from taskorch.errors import Conflict, InvalidInput
from taskorch.mcp.server import build_server
from taskorch.services.app import Orchestrator
from taskorch.store.tables import git_integration_config, task_events
from taskorch.sync.secrets import check_token_name, looks_like_token, token_name_allowed

FAKE = "FAKEFAKEfake0123456789FAKEfakeFAKE00"  # 36 characters, the length of a GitHub token body
FAKE_TOKENS = [
    f"ghp_{FAKE}",
    f" ghp_{FAKE}",
    f"ghp_{FAKE} ",
    f"\tGHP_{FAKE}\n",
    f"gho_{FAKE}",
    f"ghu_{FAKE}",
    f"ghs_{FAKE}",
    f"ghr_{FAKE}",
    f"github_pat_11FAKE0000_{FAKE}",
    f"GitHub_Pat_11FAKE0000_{FAKE}",
    "0123456789abcdef0123456789abcdeffa4e0000",  # 40 hex digits (a classic token's shape)
    "0123456789ABCDEF0123456789ABCDEFFA4E0000",
    "glpat-FAKEfake0123456789xx",
    "ATATT3xFfGF0FAKEfakeFAKE",
    f"Bearer ghp_{FAKE}",
    "bearer fake-token-value",
    "token fake-token-value",
    "xoxb-0000-fake",
    "AKIAFAKEFAKEFAKE0000",
    "FAKEfake0123456789FAKEfake0123",  # a long random-looking run
]


@pytest.mark.parametrize("value", FAKE_TOKENS)
def test_a_token_in_place_of_its_name_is_refused_without_being_repeated(value: str) -> None:
    assert looks_like_token(value)
    with pytest.raises(InvalidInput) as caught:
        check_token_name(value)
    message = str(caught.value)
    assert "looks like a token itself" in message and "GITHUB_TOKEN" in message
    assert value.strip() not in message and FAKE not in message


@pytest.mark.parametrize("value", ["GITHUB_TOKEN", " GITHUB_TOKEN ", "_T", "my.keyring-entry", "TASKORCH_GH_TOKEN"])
def test_names_are_accepted_and_trimmed(value: str) -> None:
    assert check_token_name(value) == value.strip()


@pytest.mark.parametrize("value", ["", " ", "MY TOKEN", "-rf", "1TOKEN", "$HOME", "A" * 129, "a/b", "x\x00y"])
def test_what_is_not_a_name_is_refused_without_being_repeated(value: str) -> None:
    with pytest.raises(InvalidInput, match="is not the name of an environment variable") as caught:
        check_token_name(value)
    if value.strip():
        assert value not in str(caught.value)


def test_the_allow_list() -> None:
    assert all(token_name_allowed(name, DEFAULT_ALLOWED_TOKEN_NAMES) for name in DEFAULT_ALLOWED_TOKEN_NAMES)
    assert token_name_allowed("TASKORCH_DEMO_GITHUB_TOKEN", ())
    assert not token_name_allowed("TASKORCH_DATABASE_URL", DEFAULT_ALLOWED_TOKEN_NAMES)
    assert not token_name_allowed("AWS_SECRET_ACCESS_KEY", DEFAULT_ALLOWED_TOKEN_NAMES)
    assert not token_name_allowed("github_token", DEFAULT_ALLOWED_TOKEN_NAMES)
    assert token_name_allowed("MYORG_GH_TOKEN", ("MYORG_*",))


def test_allowed_token_names_come_from_the_environment() -> None:
    base = {"TASKORCH_DATABASE_URL": "sqlite://"}
    assert Settings.from_env(base).allowed_token_names == DEFAULT_ALLOWED_TOKEN_NAMES
    env = {**base, "TASKORCH_ALLOWED_TOKEN_NAMES": " GITHUB_TOKEN, MYORG_* ,"}
    assert Settings.from_env(env).allowed_token_names == ("GITHUB_TOKEN", "MYORG_*")
    with pytest.raises(InvalidInput, match="TASKORCH_ALLOWED_TOKEN_NAMES") as caught:
        Settings.from_env({**base, "TASKORCH_ALLOWED_TOKEN_NAMES": "GITHUB_TOKEN,not a name"})
    assert "not a name" not in str(caught.value)


def _assert_nothing_kept(orch: Orchestrator, database_url: str, secret: str) -> None:
    with pytest.raises(Conflict, match="no Git repository connected"):
        orch.git_config()
    with orch.db.transaction(write=False) as conn:
        assert conn.execute(select(git_integration_config)).first() is None
        assert all(secret not in str(row.changes) for row in conn.execute(select(task_events)))
    orch.close()
    raw = Path(database_url.removeprefix("sqlite:///"))
    for path in raw.parent.glob(raw.name + "*"):
        assert secret.encode() not in path.read_bytes()


def test_a_refused_token_is_not_stored_audited_or_logged(
    orch: Orchestrator, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = f" ghp_{FAKE}"
    with pytest.raises(InvalidInput) as caught:
        orch.git_connect("octo-org/shop", api_token_name=secret)
    assert FAKE not in str(caught.value)
    assert FAKE not in caplog.text
    _assert_nothing_kept(orch, database_url, FAKE)


async def _tool_error(client: Client, arguments: dict[str, Any]) -> str:
    result = await client.call_tool("orchestrator_git_integration", arguments)
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


def _mcp_settings(database_url: str, allowed: tuple[str, ...] = DEFAULT_ALLOWED_TOKEN_NAMES) -> Settings:
    return Settings(database_url=database_url, git_integration="basic", allowed_token_names=allowed)


def test_over_mcp_a_token_is_refused_and_never_echoed(
    database_url: str, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with Client(build_server(_mcp_settings(database_url))) as client:
            await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
            for value in (f" ghp_{FAKE}", f"GITHUB_PAT_{FAKE}", [f"ghp_{FAKE}"], {"token": f"ghp_{FAKE}"}):
                text = await _tool_error(
                    client,
                    {"action": "connect", "repository": "octo-org/shop", "issue_config": {"api_token_name": value}},
                )
                assert "api_token_name" in text, text
                assert FAKE not in text and "input_value" not in text, text

    anyio.run(scenario)
    assert FAKE not in caplog.text
    orch = Orchestrator(Settings(database_url=database_url))
    orch.initialize_session(str(project))
    _assert_nothing_kept(orch, database_url, FAKE)


def test_over_mcp_only_allowed_token_names_are_used(
    database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-aws-secret-for-the-test")

    async def scenario() -> None:
        async with Client(build_server(_mcp_settings(database_url))) as client:
            await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
            text = await _tool_error(
                client,
                {
                    "action": "connect",
                    "repository": "octo-org/shop",
                    "issue_config": {"api_token_name": "AWS_SECRET_ACCESS_KEY"},
                },
            )
            assert "AWS_SECRET_ACCESS_KEY is not among the token names" in text
            assert "TASKORCH_ALLOWED_TOKEN_NAMES" in text and "taskorch git connect" in text
            assert "fake-aws-secret" not in text
            for allowed in ("GITHUB_TOKEN", "TASKORCH_SHOP_TOKEN"):
                result = await client.call_tool(
                    "orchestrator_git_integration",
                    {"action": "connect", "repository": "octo-org/shop", "issue_config": {"api_token_name": allowed}},
                )
                assert not result.is_error, result.content

        async with Client(build_server(_mcp_settings(database_url, ("MYORG_*",)))) as client:
            await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
            ok = await client.call_tool(
                "orchestrator_git_integration",
                {"action": "connect", "repository": "octo-org/shop", "issue_config": {"api_token_name": "MYORG_GH"}},
            )
            assert not ok.is_error, ok.content
            refused = await _tool_error(
                client,
                {
                    "action": "connect",
                    "repository": "octo-org/shop",
                    "issue_config": {"api_token_name": "GITHUB_TOKEN"},
                },
            )
            assert "not among the token names" in refused

    anyio.run(scenario)


def test_the_cli_may_name_any_variable_but_never_a_token(
    database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    runner = CliRunner()
    where = ["--project", str(project)]
    refused = runner.invoke(app, ["git", "connect", "octo-org/shop", "--token-name", f" ghp_{FAKE}", *where])
    assert refused.exit_code == 2, refused.output
    assert "looks like a token itself" in refused.stderr and FAKE not in refused.output + refused.stderr
    user = runner.invoke(app, ["git", "connect", "octo-org/shop", "--token-name", "AWS_SECRET_ACCESS_KEY", *where])
    assert user.exit_code == 0, user.stderr
    assert "octo-org/shop" in user.stdout
