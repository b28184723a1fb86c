"""The web view in a real browser: Debian's Chromium, headless, driven by Playwright.

The HTTP server (``/mcp`` and ``/web``, loopback, no token) runs in this process on 127.0.0.1
over a seeded project: 50 tasks with dependencies, two release plans, a GitHub connection (the
stand-in) with open conflicts. The tests load every page, click through to a task, watch a
change made through the MCP tools appear without a reload, and check that hostile titles and
labels stay text. Screenshots go to each test's temporary folder (and to
``$TASKORCH_SCREENSHOTS`` when set, which is how docs/screenshots/ is made).

Skipped, saying why, only when no Chromium is installed (``apt-get install -y chromium``); a
failure instead under ``TASKORCH_TEST_BROWSER_REQUIRED`` (``.ci/run`` sets it after installing).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from standins.github import FakeGitHub
from standins.seed import Seeded, git_project, seed_project
from taskorch.config import Settings
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "ghp_webTESTtoken0123456789abcdefWEB"
HOSTILE_TITLE = "<script>alert('title')</script><img src=x onerror=alert(1)>\x07 \u202e end"
HOSTILE_LABEL = "<b onmouseover=alert(2)>lbl</b>"


@dataclass
class Site:
    url: str
    session_id: int
    seeded: Seeded
    orch: Orchestrator
    project: Path


def _server_thread(app: Any, sock: socket.socket) -> tuple[Any, threading.Thread]:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the web server did not start")
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def site(tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from taskorch.mcp.http import HttpOptions, build_http_app
    from taskorch.platforms.github import GitHubPlatform

    monkeypatch.setenv("GH_WEB_TOKEN", TOKEN)
    project = git_project(tmp_path / "project")
    database_url = f"sqlite:///{tmp_path / 'web.db'}"

    def factory(config: Any) -> GitHubPlatform:
        from taskorch.sync.secrets import resolve_token

        return GitHubPlatform.connect(
            resolve_token(config["api_token_name"]),
            config["repository_url"],
            base_url="https://api.github.com",
            transport=fake_github.transport(),
        )

    settings = Settings(database_url=database_url, git_integration="basic", mutation_spacing=0.0)
    orch = Orchestrator(settings, platform_factory=factory, sleep=lambda _s: None)
    session_id = orch.initialize_session(str(project)).session_id
    orch.git_connect("octo-org/shop", api_token_name="GH_WEB_TOKEN", auto_sync_enabled=True)
    seeded = seed_project(orch, 50, fake_github=fake_github)
    assert seeded.total == 50 and seeded.conflicts == 2
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_http_app(settings, HttpOptions(port=port, no_auth=True))
    server, thread = _server_thread(app, sock)
    try:
        yield Site(f"http://127.0.0.1:{port}", session_id, seeded, orch, project)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        orch.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("TASKORCH_TEST_BROWSER_REQUIRED"):
            pytest.fail("no Chromium installed, and TASKORCH_TEST_BROWSER_REQUIRED is set (CI)")
        pytest.skip("no Chromium installed: apt-get install -y chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # A fresh profile directory per test (Playwright's way of passing --user-data-dir).
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        tab = context.pages[0] if context.pages else context.new_page()
        tab.dialogs = []  # type: ignore[attr-defined]
        tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        tab.set_default_timeout(20_000)
        try:
            yield tab
        finally:
            context.close()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=False)
    target = os.environ.get("TASKORCH_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=False)


async def _mcp(url: str, project: Path, calls: list[tuple[str, dict[str, Any]]]) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with (
        create_mcp_http_client() as http,
        Client(streamable_http_client(url + "/mcp", http_client=http), mode="legacy") as client,
    ):
        result = await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
        assert not result.is_error
        for name, arguments in calls:
            result = await client.call_tool("orchestrator_" + name, arguments)
            text = " ".join(getattr(b, "text", "") for b in result.content)
            assert not result.is_error, f"{name}: {text}"


def call_tools(site: Site, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Call MCP tools over the server's /mcp from another thread (Playwright's loop owns this one)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            anyio.run(_mcp, site.url, site.project, calls)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures, failures


def test_every_page_of_the_seeded_project(site: Site, page: Any, tmp_path: Path) -> None:
    base = f"{site.url}/web/p/{site.session_id}"
    page.goto(f"{site.url}/web/")
    page.wait_for_url(f"{base}/graph")
    assert page.locator("svg.taskgraph g.node").count() == 50
    assert page.locator("svg.taskgraph g.node.critical").count() >= 2
    assert page.locator("svg.taskgraph g.node.ready").count() >= 1
    assert "⚑" in page.locator(".claims-list").inner_text()
    assert "issue #" in (page.locator("svg.taskgraph").text_content() or "")
    shot(page, tmp_path, "graph")

    page.goto(f"{base}/board")
    columns = [c.lower() for c in page.locator(".column h2").all_text_contents()]
    assert any("completed" in c for c in columns) and any("in progress" in c for c in columns)
    assert page.locator("li.card").count() == 50
    card = page.locator(f'li.card[data-task="{site.seeded.started[0]}"]')
    assert "⚑" in card.inner_text() and "issue #" in card.inner_text() and "role:" in card.inner_text()
    shot(page, tmp_path, "board")

    page.goto(f"{base}/release")
    assert page.locator("section.release h2").count() == 2
    assert page.locator("svg.burndown polyline.remaining").count() == 2
    assert "Changelog preview" in page.content() and "not ready" in page.locator("section.release").first.inner_text()
    shot(page, tmp_path, "release")

    page.goto(f"{base}/sync")
    text = page.locator("main").inner_text()
    assert "octo-org/shop" in text and "⚠ 2" in text and "requests left" in text
    assert page.locator("table.conflicts tbody tr").count() == 2
    assert "Remote title of" in page.locator("table.conflicts").inner_text()
    assert page.locator("table.logs tbody tr").count() >= 3
    shot(page, tmp_path, "sync")

    page.goto(f"{base}/activity")
    page.select_option("#f-tool", "complete_task")
    page.click("form.filters button")
    page.wait_for_url("**tool=complete_task**")
    tools = set(page.locator("table.audit tbody td:nth-child(3)").all_inner_texts())
    assert tools == {"complete_task"}
    shot(page, tmp_path, "activity")


def test_click_through_to_a_task_and_keyboard(site: Site, page: Any, tmp_path: Path) -> None:
    done = site.seeded.completed[0]
    page.goto(f"{site.url}/web/p/{site.session_id}/graph")
    page.locator(f'svg.taskgraph g.node[data-task="{done}"] a').click()
    page.wait_for_url(f"**/task/{done}")
    assert page.locator("h1.task-title").inner_text().startswith(f"#{done} ")
    assert page.locator("article.artifact").count() == 1 and f"src/step_{done}.py" in page.content()
    assert "complete_task" in page.locator("table.audit").inner_text()
    shot(page, tmp_path, "task")
    # Keyboard: the skip link first, then a task box in the picture opens with Enter.
    page.goto(f"{site.url}/web/p/{site.session_id}/graph")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    other = site.seeded.epics[-1]
    page.locator(f'svg.taskgraph g.node[data-task="{other}"] a').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/task/{other}")
    # A phone-width screen: nothing wider than the screen but the scrolling regions.
    page.set_viewport_size({"width": 390, "height": 844})
    for name in ("board", "sync", f"task/{done}"):
        page.goto(f"{site.url}/web/p/{site.session_id}/{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    shot(page, tmp_path, "board-phone")


def test_a_change_through_the_mcp_tools_appears_without_a_reload(site: Site, page: Any) -> None:
    ready = site.orch.get_status().ready[0].id
    page.goto(f"{site.url}/web/p/{site.session_id}/board")
    page.evaluate("window.notReloaded = true")
    card = f'li.card[data-task="{ready}"]'
    assert "pending" in page.locator(card).inner_text()
    call_tools(site, [("execute_task", {"task_id": ready})])
    page.wait_for_selector(f"{card}.status-in_progress")
    assert page.evaluate("window.notReloaded") is True
    assert "Updated" in page.locator("#live-status").inner_text()


def test_hostile_titles_and_labels_render_inert(site: Site, page: Any, tmp_path: Path) -> None:
    number = site.orch.plan_task(TaskFields(title=HOSTILE_TITLE.replace("\x07", ""), labels=[HOSTILE_LABEL])).task.id
    site.orch.update_task(number, {"description": "<iframe src=javascript:alert(3)></iframe>"})
    for path in ("graph", "board", f"task/{number}", "activity"):
        page.goto(f"{site.url}/web/p/{site.session_id}/{path}")
        assert page.locator("main img, main iframe, main b[onmouseover]").count() == 0, path
        assert page.locator("script").count() == 1, path  # live.js only
    assert "<script>alert('title')</script>" in page.locator("main").inner_text()
    page.goto(f"{site.url}/web/p/{site.session_id}/task/{number}")
    assert HOSTILE_LABEL in page.locator("main").inner_text()
    page.locator("main").hover()
    shot(page, tmp_path, "hostile")
    assert page.dialogs == []
