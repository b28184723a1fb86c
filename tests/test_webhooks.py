"""Webhooks: signatures as each platform documents, forged, unsigned, stale and replayed
deliveries refused with nothing changed, and a delivery turned into a targeted pull."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

from standins.github import FakeGitHub
from taskorch.config import Settings
from taskorch.errors import InvalidInput, Unauthorized
from taskorch.mcp.webhooks import webhook_routes
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.services.webhooks import WebhookService, same_repository
from taskorch.store.tables import webhook_deliveries
from taskorch.webhooks import parse_delivery, sign

SECRET = "s3cr3t-webhook-value-for-tests"
TOKEN = "ghp_SECRETtoken0123456789abcdefSECRET"
NOW = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)


def secret_of(name: str) -> str:
    return SECRET


def github_body(number: int = 1, updated: datetime = NOW, repo: str = "octo-org/shop") -> bytes:
    return json.dumps(
        {
            "action": "edited",
            "issue": {"number": number, "updated_at": updated.isoformat().replace("+00:00", "Z")},
            "repository": {"full_name": repo},
        }
    ).encode()


def github_headers(body: bytes, delivery: str = "d-1", secret: str = SECRET) -> dict[str, str]:
    return {"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(secret, body)}


def parse(platform: str, headers: dict[str, str], body: bytes, now: datetime = NOW) -> Any:
    return parse_delivery(platform, headers, body, secret_of=secret_of, now=now, max_age=600)


def test_github_signature_verified_and_issue_named() -> None:
    body = github_body(7)
    delivery = parse("github", github_headers(body), body)
    assert (delivery.delivery_id, delivery.repository, delivery.issues) == ("d-1", "octo-org/shop", ("7",))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-GitHub-Delivery": "d-1", "X-GitHub-Event": "issues"},  # unsigned
        {"X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": sign("another secret", b"x")},  # forged
    ],
)
def test_github_unsigned_or_forged_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        parse("github", headers, github_body())


def test_a_body_changed_after_signing_is_refused() -> None:
    body = github_body(1)
    with pytest.raises(Unauthorized):
        parse("github", github_headers(body), github_body(2))


def test_stale_and_future_deliveries_are_refused() -> None:
    old = github_body(updated=NOW - timedelta(hours=2))
    with pytest.raises(InvalidInput, match="stale"):
        parse("github", github_headers(old), old)
    future = github_body(updated=NOW + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="stale"):
        parse("github", github_headers(future), future)


def test_gitlab_token_compared_and_issue_named() -> None:
    body = json.dumps(
        {
            "object_kind": "issue",
            "project": {"path_with_namespace": "group/sub/shop"},
            "object_attributes": {"iid": 4, "updated_at": "2026-12-12 08:59:00 UTC"},
        }
    ).encode()
    headers = {"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Event-UUID": "u-1", "X-Gitlab-Token": SECRET}
    delivery = parse("gitlab", headers, body)
    assert (delivery.delivery_id, delivery.repository, delivery.issues) == ("u-1", "group/sub/shop", ("4",))
    assert parse("gitlab", {**headers, "Idempotency-Key": "k-9"}, body).delivery_id == "k-9"
    with pytest.raises(Unauthorized):
        parse("gitlab", {**headers, "X-Gitlab-Token": "guess"}, body)
    with pytest.raises(Unauthorized):
        parse("gitlab", {k: v for k, v in headers.items() if k != "X-Gitlab-Token"}, body)


def test_jira_hmac_identifier_and_timestamp() -> None:
    body = json.dumps(
        {"timestamp": int(NOW.timestamp() * 1000), "webhookEvent": "jira:issue_updated", "issue": {"key": "SHOP-12"}}
    ).encode()
    headers = {"X-Atlassian-Webhook-Identifier": "j-1", "X-Hub-Signature": sign(SECRET, body)}
    delivery = parse("jira", headers, body)
    assert delivery.delivery_id == f"j-1:{int(NOW.timestamp() * 1000)}"
    assert (delivery.repository, delivery.issues, delivery.event) == ("SHOP", ("SHOP-12",), "jira:issue_updated")
    with pytest.raises(Unauthorized):
        parse("jira", {**headers, "X-Hub-Signature": sign("wrong", body)}, body)
    with pytest.raises(InvalidInput, match="stale"):
        parse("jira", headers, body, now=NOW + timedelta(hours=1))


def test_same_repository() -> None:
    assert same_repository("octo-org/shop", "Octo-Org/Shop")
    assert same_repository("https://gitlab.example.com/group/sub/shop.git", "group/sub/shop")
    assert not same_repository("octo-org/shop", "octo-org/shop2")
    assert not same_repository("octo-org/shop", "")


@pytest.fixture
def linked(
    fake_github: FakeGitHub, database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Orchestrator]:
    """A project with one task linked to issue #1 of the fake, pushed."""
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)
    monkeypatch.setenv("TASKORCH_WEBHOOK_SECRET_GITHUB", SECRET)

    def factory(config: Any) -> GitHubPlatform:
        return GitHubPlatform.connect(
            TOKEN, config["repository_url"], base_url="https://api.github.com", transport=fake_github.transport()
        )

    orch = Orchestrator(
        Settings(database_url=database_url, git_integration="basic", mutation_spacing=0.0),
        platform_factory=factory,
        sleep=lambda _s: None,
    )
    orch.initialize_session(str(project))
    orch.git_connect("octo-org/shop", api_token_name="GH_TEST_TOKEN", auto_sync_enabled=True)
    orch.plan_task(TaskFields(title="Import CSV", description="From the shop export."))
    orch.git_sync()
    yield orch
    orch.close()


def deliveries(orch: Orchestrator) -> int:
    with orch.db.transaction(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar_one())


def client_for(orch: Orchestrator) -> TestClient:
    return TestClient(Starlette(routes=webhook_routes(orch.settings)))


def test_a_delivery_is_queued_then_pulled_through_the_merge(linked: Orchestrator, fake_github: FakeGitHub) -> None:
    fake_github.edit_issue(1, title="Import CSV and XLSX")
    body = github_body(1, updated=datetime.now(UTC))
    with client_for(linked) as client:
        answer = client.post("/webhooks/github", content=body, headers=github_headers(body, "g-1"))
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    assert linked.get_task(1).title == "Import CSV"  # answered before any pull
    requests_before = len(fake_github.requests)
    outcome = WebhookService(linked).process_pending("worker-1")
    assert outcome["done"] == 1
    assert linked.get_task(1).title == "Import CSV and XLSX"
    fetched = [r for r in fake_github.requests[requests_before:] if r.method == "GET"]
    assert [r.path for r in fetched] == ["/repos/octo-org/shop/issues/1"]  # targeted: that issue only
    assert WebhookService(linked).process_pending("worker-1")["done"] == 0


def test_a_jira_delivery_names_issues_by_key_and_pulls_that_issue(
    database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standins.jira import FakeJira

    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    monkeypatch.setenv("TASKORCH_WEBHOOK_SECRET_JIRA", SECRET)
    jira = FakeJira("SHOP")
    with jira.serve() as url:
        settings = Settings(database_url=database_url, mutation_spacing=0.0, jira_url=url, jira_email="bot@example.com")
        orch = Orchestrator(settings, sleep=lambda _s: None)
        try:
            orch.initialize_session(str(project))
            orch.git_connect("jira:SHOP", auto_sync_enabled=True)
            orch.plan_task(TaskFields(title="Import CSV"))
            orch.git_sync()
            (number,) = jira.issues
            jira.edit_issue(number, summary="Import CSV and XLSX")
            body = json.dumps(
                {
                    "timestamp": int(datetime.now(UTC).timestamp() * 1000),
                    "webhookEvent": "jira:issue_updated",
                    "issue": {"key": jira.key(number)},
                }
            ).encode()
            headers = {"X-Atlassian-Webhook-Identifier": "j-1", "X-Hub-Signature": sign(SECRET, body)}
            with client_for(orch) as client:
                assert client.post("/webhooks/jira", content=body, headers=headers).status_code == 202
            before = len(jira.requests)
            assert WebhookService(orch).process_pending("worker-1")["done"] == 1
            assert orch.get_task(1).title == "Import CSV and XLSX"
            fetched = [r.path for r in jira.requests[before:] if r.method == "GET" and "/issue/" in r.path]
            assert fetched == [f"/rest/api/3/issue/{jira.key(number)}"]  # targeted: that issue only
        finally:
            orch.close()


def test_forged_unsigned_and_replayed_deliveries_are_refused_and_change_nothing(
    linked: Orchestrator, fake_github: FakeGitHub
) -> None:
    fake_github.edit_issue(1, title="Changed on GitHub")
    body = github_body(1, updated=datetime.now(UTC))
    with client_for(linked) as client:
        forged = client.post("/webhooks/github", content=body, headers=github_headers(body, "f-1", secret="guess"))
        unsigned = client.post(
            "/webhooks/github", content=body, headers={"X-GitHub-Delivery": "f-2", "X-GitHub-Event": "issues"}
        )
        assert (forged.status_code, unsigned.status_code) == (401, 401)
        assert SECRET not in forged.text and "Traceback" not in forged.text
        assert deliveries(linked) == 0
        first = client.post("/webhooks/github", content=body, headers=github_headers(body, "r-1"))
        replay = client.post("/webhooks/github", content=body, headers=github_headers(body, "r-1"))
        stale_body = github_body(1, updated=datetime.now(UTC) - timedelta(days=1))
        stale = client.post("/webhooks/github", content=stale_body, headers=github_headers(stale_body, "s-1"))
        unknown = client.post("/webhooks/bitbucket", content=body, headers=github_headers(body, "u-1"))
    assert (first.status_code, replay.status_code, stale.status_code, unknown.status_code) == (202, 409, 400, 404)
    assert deliveries(linked) == 1
    assert linked.get_task(1).title == "Import CSV"


def test_a_missing_secret_is_named_not_guessed(linked: Orchestrator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKORCH_WEBHOOK_SECRET_GITHUB")
    monkeypatch.setattr("keyring.get_password", lambda *_a: None, raising=False)
    body = github_body(1, updated=datetime.now(UTC))
    with client_for(linked) as client:
        answer = client.post("/webhooks/github", content=body, headers=github_headers(body, "m-1"))
    assert answer.status_code == 503 and "TASKORCH_WEBHOOK_SECRET_GITHUB" in answer.text
    assert deliveries(linked) == 0


def test_webhook_secret_command_prints_the_secret_once_and_the_settings() -> None:
    from taskorch.cli.app import app

    result = CliRunner().invoke(app, ["webhook", "secret", "github", "--url", "https://tasks.example.com"])
    assert result.exit_code == 0, result.output
    assert "TASKORCH_WEBHOOK_SECRET_GITHUB" in result.output
    assert "https://tasks.example.com/webhooks/github" in result.output
    assert "application/json" in result.output
    bad = CliRunner().invoke(app, ["webhook", "secret", "bitbucket"])
    assert bad.exit_code == 2
