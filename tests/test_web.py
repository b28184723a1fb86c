"""The web view over HTTP without a browser: pages, escaping, security headers, tokens, Host."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from standins.seed import git_project, seed_project
from taskorch.config import Settings
from taskorch.mcp.http import HttpOptions, build_http_app
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.services.tokens import TokenService
from taskorch.store.tables import webhook_deliveries
from taskorch.web.app import CSP, build_web_app

HOSTILE = "<script>alert('t')</script><img src=x onerror=alert(1)> & \"q\""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Git repository (release plans need one)."""
    return git_project(tmp_path / "project")


@pytest.fixture
def seeded(orch: Orchestrator) -> Any:
    return seed_project(orch, 30)


@pytest.fixture
def client(orch: Orchestrator, seeded: Any) -> Iterator[TestClient]:
    app = build_web_app(lambda: orch)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def sid(orch: Orchestrator) -> int:
    assert orch.current_session_id is not None
    return orch.current_session_id


def test_every_page_answers_with_the_security_headers(client: TestClient, orch: Orchestrator, seeded: Any) -> None:
    project = sid(orch)
    index = client.get("/", follow_redirects=False)
    assert index.status_code == 303 and index.headers["location"] == f"/p/{project}/graph"
    for page, text in [
        ("graph", "Critical path"),
        ("board", "Board"),
        ("release", "1.0.0"),
        ("sync", "not connected"),
        ("activity", "Activity"),
        (f"task/{seeded.epics[0]}", "Audit trail"),
    ]:
        response = client.get(f"/p/{project}/{page}")
        assert response.status_code == 200, page
        assert text in response.text, page
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text.replace('<script src="/static/live.js" defer></script>', "")
        assert " style=" not in response.text  # the CSP allows no inline style
    assert client.get(f"/p/{project}/stamp").json()["stamp"]
    assert client.get("/p/999/graph").status_code == 404
    assert client.get("/static/live.js").status_code == 200


def test_hostile_text_is_escaped(client: TestClient, orch: Orchestrator) -> None:
    number = orch.plan_task(TaskFields(title=HOSTILE, labels=["<b>x</b>"], description=HOSTILE)).task.id
    project = sid(orch)
    for page in ("graph", "board", "activity", f"task/{number}"):
        body = client.get(f"/p/{project}/{page}").text
        assert "<script>alert" not in body and "<img src=x" not in body and "<b>x</b>" not in body, page
        assert "&lt;script&gt;" in body or "&lt;b&gt;" in body, page


def test_activity_filters(client: TestClient, orch: Orchestrator, seeded: Any) -> None:
    project = sid(orch)
    body = client.get(f"/p/{project}/activity", params={"tool": "complete_task"}).text
    assert "<td>complete_task</td>" in body and "<td>plan_task</td>" not in body
    body = client.get(f"/p/{project}/activity", params={"task": str(seeded.epics[0])}).text
    assert f"#{seeded.epics[0]}<" in body


def test_stamp_changes_with_the_project(client: TestClient, orch: Orchestrator) -> None:
    project = sid(orch)
    before = client.get(f"/p/{project}/stamp").json()["stamp"]
    orch.plan_task(TaskFields(title="One more"))
    assert client.get(f"/p/{project}/stamp").json()["stamp"] != before


def test_the_http_server_mounts_the_view_behind_its_tokens(settings: Settings, orch: Orchestrator, seeded: Any) -> None:
    token = TokenService(orch.db).create("viewer", "read").token
    app = build_http_app(settings, HttpOptions(port=8799))
    with TestClient(app, base_url="http://127.0.0.1:8799") as c:
        page = c.get(f"/web/p/{sid(orch)}/graph", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/web/login"
        assert c.get(f"/web/p/{sid(orch)}/stamp").status_code == 401
        assert c.post("/web/login", data={"token": "wrong"}).status_code == 401
        signed = c.post("/web/login", data={"token": token}, follow_redirects=False)
        assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
        assert c.get(f"/web/p/{sid(orch)}/graph").status_code == 200
        c.cookies.clear()
        bearer = c.get(f"/web/p/{sid(orch)}/board", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200 and "Board" in bearer.text
        evil = c.get("/web/", headers={"Authorization": f"Bearer {token}", "Host": "evil.example:8799"})
        assert evil.status_code == 421


def test_graph_page_of_a_project_without_tasks(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / ".git").mkdir(parents=True)
    o = Orchestrator(settings)
    try:
        project = o.initialize_session(str(empty)).session_id
        with TestClient(build_web_app(lambda: o), base_url="http://127.0.0.1") as c:
            for page in ("graph", "board", "release", "sync", "activity"):
                assert c.get(f"/p/{project}/{page}").status_code == 200
    finally:
        o.close()


def test_sync_page_lists_the_connection_s_webhook_deliveries_escaped(
    client: TestClient, orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_WEB_TEST_TOKEN", "not-used-no-network")
    orch.git_connect("octo-org/shop", api_token_name="GH_WEB_TEST_TOKEN")
    received = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)
    rows = [
        ("github", "d-done", "octo-org/shop", "done", None),
        ("github", "d-failed", "Octo-Org/Shop", "failed", HOSTILE),
        ("github", "d-elsewhere", "octo-org/other", "pending", None),
        ("gitlab", "d-gitlab", "octo-org/shop", "pending", None),
    ]
    with orch.db.transaction() as conn:
        for platform, delivery_id, repository, status, error in rows:
            conn.execute(
                insert(webhook_deliveries).values(
                    platform=platform,
                    delivery_id=delivery_id,
                    event="issues",
                    repository=repository,
                    issue_numbers=[1],
                    status=status,
                    attempts=5 if status == "failed" else 1,
                    received_at=received,
                    done_at=None if status == "pending" else received,
                    error=error,
                )
            )
    body = client.get(f"/p/{sid(orch)}/sync").text
    assert "Webhook deliveries" in body
    assert "<td>d-done</td>" in body and "<td>d-failed</td>" in body
    assert "d-elsewhere" not in body and "d-gitlab" not in body  # another repository, another platform
    assert "✗ failed" in body and "(5 attempts)" in body and "2026-12-12 09:00:00 UTC" in body
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert" in body


def test_sync_page_of_a_connection_without_deliveries(
    client: TestClient, orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_WEB_TEST_TOKEN", "not-used-no-network")
    orch.git_connect("octo-org/shop", api_token_name="GH_WEB_TEST_TOKEN")
    assert "No webhook delivery yet." in client.get(f"/p/{sid(orch)}/sync").text
