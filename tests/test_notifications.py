"""Notifications: events found in the audit trail, queued once per rule and event, posted to a
local receiver in each service's shape, retried, rate-limited; the digest; the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from taskorch.errors import InvalidInput
from taskorch.notifications import render
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.services.notifications import NotificationService


class Receiver:
    """An incoming-webhook receiver on 127.0.0.1 recording the JSON bodies posted to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver()
    monkeypatch.setenv("TEAM_SLACK_URL", r.url)
    yield r
    r.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 12, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def post(url: str, body: dict[str, Any]) -> int:
    return httpx.post(url, json=body, timeout=10).status_code


def test_shapes_follow_each_service() -> None:
    event = {"kind": "task_completed", "title": "Task #3 completed", "text": "by alice"}
    assert render("slack", event)["text"] == "Task #3 completed: by alice"
    assert render("slack", event)["blocks"][0]["type"] == "section"
    teams = render("teams", event)
    assert teams["@type"] == "MessageCard" and teams["title"] == "Task #3 completed"
    assert render("discord", event)["content"].startswith("**Task #3 completed**")
    assert len(render("discord", {"title": "x", "text": "y" * 5000})["content"]) == 2000
    assert render("generic", event)["event"] == "task_completed"


def test_completed_task_is_posted_once_and_rate_limited(orch: Orchestrator, receiver: Receiver) -> None:
    clock = Clock()
    service = NotificationService(orch, post=post, clock=clock)
    session_id = orch.current_session_id
    assert session_id is not None
    service.add_rule(
        session_id,
        "team",
        service="slack",
        url_name="TEAM_SLACK_URL",
        events=["task_completed", "task_blocked"],
        min_interval_seconds=600,
    )
    service.scan()  # the cursor starts here
    first = orch.plan_task(TaskFields(title="Write the importer")).task.id
    second = orch.plan_task(TaskFields(title="Document the importer")).task.id
    for number in (first, second):
        orch.execute_task(number)
        orch.complete_task(number, summary="done")
    assert service.scan() == 2
    assert service.scan() == 0  # the same events are never queued twice
    assert service.deliver() == {"sent": 1, "retry": 0, "failed": 0, "waiting": 1}
    assert receiver.bodies == [
        render("slack", {"kind": "task_completed", "title": f"Task #{first} completed", "text": "by local"})
    ]
    clock.now += timedelta(seconds=601)
    assert service.deliver()["sent"] == 1
    assert len(receiver.bodies) == 2 and f"#{second}" in receiver.bodies[1]["text"]
    assert service.deliver()["sent"] == 0


def test_a_failing_receiver_is_retried_at_least_once_delivery(orch: Orchestrator, receiver: Receiver) -> None:
    clock = Clock()
    service = NotificationService(orch, post=post, clock=clock)
    session_id = orch.current_session_id
    assert session_id is not None
    service.add_rule(
        session_id, "t", service="discord", url_name="TEAM_SLACK_URL", events=["task_blocked"], min_interval_seconds=0
    )
    service.scan()
    number = orch.plan_task(TaskFields(title="Deploy")).task.id
    orch.update_task(number, {"status": "blocked"})
    service.scan()
    receiver.status = 500
    assert service.deliver()["retry"] == 1
    receiver.status = 200
    assert service.deliver()["sent"] == 0  # backing off
    clock.now += timedelta(hours=1)
    assert service.deliver()["sent"] == 1
    assert receiver.bodies[-1]["content"].startswith(f"**Task #{number} blocked**")


def test_rules_refuse_urls_and_unknown_events(orch: Orchestrator) -> None:
    service = NotificationService(orch)
    session_id = orch.current_session_id
    assert session_id is not None
    with pytest.raises(InvalidInput):
        service.add_rule(
            session_id,
            "x",
            service="slack",
            url_name="https://hooks.slack.com/services/T0/B0/XYZ",
            events=["task_completed"],
        )
    with pytest.raises(InvalidInput):
        service.add_rule(session_id, "x", service="slack", url_name="URL", events=["task_exploded"])
    with pytest.raises(InvalidInput):
        service.add_rule(session_id, "x", service="irc", url_name="URL", events=["task_completed"])


def test_digest_lists_finished_blocked_and_next(orch: Orchestrator) -> None:
    done = orch.plan_task(TaskFields(title="Parse CSV")).task.id
    orch.execute_task(done)
    orch.complete_task(done, summary="ok")
    stuck = orch.plan_task(TaskFields(title="Talk to the bank")).task.id
    orch.update_task(stuck, {"status": "blocked"})
    orch.plan_task(TaskFields(title="Write docs"))
    digest = NotificationService(orch).digest(orch.current_session_id or 0, "weekly")
    text = digest["text"]
    assert "#1 Parse CSV" in text.split("Blocked:")[0]
    assert "Talk to the bank" in text.split("Blocked:")[1].split("Next:")[0]
    assert "Write docs" in text.split("Next:")[1]


def test_notify_cli_add_list_digest_remove(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from taskorch.cli.app import app

    monkeypatch.chdir(project)
    runner = CliRunner()
    added = runner.invoke(
        app, ["notify", "add", "team", "--service", "teams", "--url-name", "TEAMS_URL", "--event", "task_completed"]
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["notify", "list"])
    assert "team: teams via TEAMS_URL" in listed.output
    assert runner.invoke(app, ["notify", "digest"]).exit_code == 0
    assert runner.invoke(app, ["notify", "remove", "team"]).exit_code == 0
    assert runner.invoke(app, ["notify", "remove", "team"]).exit_code == 3
