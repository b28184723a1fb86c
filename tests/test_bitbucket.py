"""The Bitbucket Cloud adapter against the stand-in: the repository, tags through the refs API,
the removed issue tracker (410), errors and rate limits; the stand-in's exchanges are checked
against Atlassian's official description when ``../shared`` is present."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import pytest

from fakes.bitbucket_spec import BitbucketSpec, load_bitbucket_spec
from standins.bitbucket import FakeBitbucket
from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.base import IssueChanges, Platform
from taskorch.platforms.bitbucket import (
    DEFAULT_WAIT_SECONDS,
    ISSUES_REMOVED,
    BitbucketPlatform,
    map_bitbucket_error,
)

BASE = "https://api.bitbucket.example/2.0"


@pytest.fixture
def fake() -> Iterator[FakeBitbucket]:
    """A fresh stand-in, validated against Bitbucket's description when it is available; the
    test fails at teardown if any exchange broke it."""
    master, _reason = load_bitbucket_spec()
    validator = cast(BitbucketSpec, master.fork()) if master is not None else None
    stand_in = FakeBitbucket(validator=validator)
    yield stand_in
    problems = [str(v) for v in validator.violations] if validator is not None else []
    problems += stand_in.internal_errors
    if problems:
        pytest.fail("the Bitbucket stand-in saw exchanges that break Bitbucket's description:\n" + "\n".join(problems))


@pytest.fixture
def bitbucket(fake: FakeBitbucket) -> Iterator[BitbucketPlatform]:
    platform = BitbucketPlatform.connect("access-token", "acme/shop", base_url=BASE, transport=fake.transport())
    yield platform
    platform.close()


def test_the_adapter_is_a_platform_that_can_do_nothing_of_the_issue_side(bitbucket: BitbucketPlatform) -> None:
    assert isinstance(bitbucket, Platform)
    assert bitbucket.name == "bitbucket"
    assert bitbucket.repository == "acme/shop"
    assert str(bitbucket.ref) == "https://bitbucket.org/acme/shop"
    assert not any(vars(bitbucket.capabilities).values())


def test_repository_and_tags_through_the_refs_api(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    first = fake.add_commit("feat(SHOP-1): checkout")
    second = fake.add_commit("fix: rounding")

    repository = bitbucket.get_repository()
    assert (repository.full_name, repository.main_branch) == ("acme/shop", "main")
    assert repository.url == "https://bitbucket.org/acme/shop"

    assert bitbucket.get_tag("v1.0.0") is None
    made = bitbucket.create_tag("v1.0.0", first, "Release v1.0.0")
    assert (made.name, made.target, made.message) == ("v1.0.0", first, "Release v1.0.0")
    bitbucket.create_tag("v1.1.0", second, "Release v1.1.0")
    assert fake.tags["v1.0.0"]["target"] == first

    post = fake.mutations()
    assert [(r.method, r.path, r.json) for r in post] == [
        (
            "POST",
            "/2.0/repositories/acme/shop/refs/tags",
            {"name": "v1.0.0", "target": {"hash": first}, "message": "Release v1.0.0"},
        ),
        (
            "POST",
            "/2.0/repositories/acme/shop/refs/tags",
            {"name": "v1.1.0", "target": {"hash": second}, "message": "Release v1.1.0"},
        ),
    ]
    found = bitbucket.get_tag("v1.1.0")
    assert found is not None and found.target == second
    assert [tag.name for tag in bitbucket.list_tags()] == ["v1.1.0", "v1.0.0"]


def test_list_tags_follows_every_page(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    sha = fake.add_commit("chore: base")
    for n in range(105):
        fake.tags[f"t{n:03}"] = {"target": sha, "message": "", "date": datetime(2026, 1, 1, tzinfo=UTC)}
    names = [tag.name for tag in bitbucket.list_tags()]
    assert sorted(names) == sorted(fake.tags)
    listed = [r for r in fake.requests if r.path.endswith("/refs/tags")]
    assert [r.query.get("page") for r in listed] == [None, "2"]


def test_an_existing_tag_or_an_unknown_commit_is_refused(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    sha = fake.add_commit("feat: one")
    bitbucket.create_tag("v1.0.0", sha, "Release v1.0.0")
    with pytest.raises(PlatformRejected, match=r"answered 400: tag \"v1.0.0\" already exists") as error:
        bitbucket.create_tag("v1.0.0", sha, "again")
    assert error.value.status == 400
    with pytest.raises(PlatformRejected, match=r"target\.hash"):
        bitbucket.create_tag("v2.0.0", "0" * 40, "nothing there")


def test_the_issue_tracker_answers_410_and_the_adapter_never_asks_it(
    fake: FakeBitbucket, bitbucket: BitbucketPlatform
) -> None:
    with httpx.Client(transport=fake.transport(), headers={"Authorization": "Bearer t"}) as client:
        for path in ("issues", "issues/1", "issues/1/comments", "milestones", "versions", "components"):
            response = client.get(f"{BASE}/repositories/acme/shop/{path}")
            assert response.status_code == 410, path
        gone = client.post(f"{BASE}/repositories/acme/shop/issues", json={"title": "x"})
    assert gone.status_code == 410
    mapped = map_bitbucket_error("POST", "/repositories/acme/shop/issues", gone)
    assert isinstance(mapped, PlatformRejected) and mapped.status == 410
    assert "issue tracker no longer exists" in str(mapped) and "Jira" in str(mapped)

    before = len(fake.requests)
    for call in (
        lambda: bitbucket.create_issue(IssueChanges(title="x")),
        lambda: bitbucket.get_issue(1),
        lambda: bitbucket.list_issues_since(None, None),
    ):
        with pytest.raises(PlatformRejected, match=ISSUES_REMOVED.split(" (")[0]):
            call()
    with pytest.raises(PlatformRejected, match="no release object"):
        bitbucket.get_release_by_tag("v1.0.0")
    with pytest.raises(PlatformRejected, match="Jira versions"):
        bitbucket.list_milestones()
    assert len(fake.requests) == before


def test_errors_map_to_the_exception_tree(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    fake.inject("503", path="/2.0/repositories/acme/shop$")
    with pytest.raises(PlatformUnavailable, match="answered 503"):
        bitbucket.get_repository()
    fake.inject("timeout")
    with pytest.raises(PlatformUnavailable, match="timed out"):
        bitbucket.get_repository()
    fake.inject("drop_before")
    with pytest.raises(PlatformUnavailable, match="could not reach Bitbucket"):
        bitbucket.get_repository()
    fake.credentials_valid = False
    with pytest.raises(AuthenticationFailed, match="answered 401") as denied:
        bitbucket.get_repository()
    assert "access-token" not in str(denied.value)
    fake.credentials_valid = True
    other = BitbucketPlatform.connect("t", "acme/elsewhere", base_url=BASE, transport=fake.transport())
    with pytest.raises(PlatformRejected, match="answered 404: Repository not found"):
        other.get_repository()
    other.close()


def test_a_429_is_rate_limited_with_retry_after_or_a_minute(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    fake.inject("429", retry_after=17)
    with pytest.raises(RateLimited) as injected:
        bitbucket.get_repository()
    assert injected.value.retry_after == 17 and injected.value.retryable
    fake.rate_limit, fake.rate_used = 5, 5
    with pytest.raises(RateLimited, match="Rate limit for this resource has been exceeded") as spent:
        bitbucket.list_tags()
    assert spent.value.retry_after == DEFAULT_WAIT_SECONDS
    assert len([r for r in fake.requests if r.status == 429]) == 2  # the adapter never retried


def test_rate_budget_reads_bitbucket_headers(fake: FakeBitbucket, bitbucket: BitbucketPlatform) -> None:
    assert bitbucket.rate_budget().limit is None
    bitbucket.get_repository()
    budget = bitbucket.rate_budget()
    assert (budget.limit, budget.remaining, budget.resource) == (1000, None, "api")


def test_bearer_by_default_basic_with_a_username() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(404, json={"type": "error", "error": {"message": "no"}})

    for username in (None, "ada@example.com"):
        platform = BitbucketPlatform.connect(
            "secret", "acme/shop", base_url=BASE, username=username, transport=httpx.MockTransport(record)
        )
        assert platform.get_tag("v1") is None
        platform.close()
    assert seen[0] == "Bearer secret"
    assert seen[1] == "Basic " + base64.b64encode(b"ada@example.com:secret").decode()


def test_connect_checks_its_arguments() -> None:
    with pytest.raises(AuthenticationFailed, match="No Bitbucket token"):
        BitbucketPlatform.connect(" ", "acme/shop")
    with pytest.raises(InvalidInput, match="workspace/repo_slug"):
        BitbucketPlatform.connect("t", "acme/sub/shop")


def test_a_next_link_to_another_host_is_refused(fake: FakeBitbucket) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"values": [], "next": "https://elsewhere.example/2.0/x?page=2"})

    platform = BitbucketPlatform.connect("t", "acme/shop", base_url=BASE, transport=httpx.MockTransport(answer))
    with pytest.raises(PlatformRejected, match="points away"):
        platform.list_tags()
    platform.close()


def test_the_stand_in_serves_over_http(fake: FakeBitbucket) -> None:
    sha = fake.add_commit("feat: served")
    with fake.serve() as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/2.0")
        platform = BitbucketPlatform.connect("t", "acme/shop", base_url=url)
        try:
            assert platform.create_tag("v0.1.0", sha, "Release v0.1.0").target == sha
            assert platform.get_repository().full_name == "acme/shop"
        finally:
            platform.close()


def test_the_stand_in_is_checked_against_bitbucket_description() -> None:
    master, reason = load_bitbucket_spec()
    if master is None:
        pytest.skip(reason)
    validator = cast(BitbucketSpec, master.fork())
    stand_in = FakeBitbucket(validator=validator)
    sha = stand_in.add_commit("feat: validated")
    platform = BitbucketPlatform.connect("t", "acme/shop", base_url=BASE, transport=stand_in.transport())
    platform.get_repository()
    platform.create_tag("v1.0.0", sha, "Release v1.0.0")
    platform.list_tags()
    assert platform.get_tag("missing") is None
    platform.close()
    assert validator.checked == 4 and validator.violations == []
    # A request the description forbids is reported: a tag whose name is not a string.
    bad = httpx.Request("POST", f"{BASE}/repositories/acme/shop/refs/tags", json={"name": 3, "target": {"hash": sha}})
    assert validator.check(bad, None)


@pytest.mark.slow
def test_python_m_standins_bitbucket_serves_until_interrupted() -> None:
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "standins", "bitbucket", "--repository", "acme/shop"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    # Only a safety net against a hang: the test waits for the printed line, never for a time.
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/2\.0", first)
        assert found is not None, first + (process.stderr.read() if process.stderr else "")
        said = [first]
        while not said[-1].startswith("Ctrl-C"):  # the instructions, up to the line that ends them
            said.append(process.stdout.readline())
            assert said[-1], "the stand-in stopped printing before its instructions ended"
        platform = BitbucketPlatform.connect("any", "acme/shop", base_url=found.group())
        try:
            assert platform.get_repository().main_branch == "main"
        finally:
            platform.close()
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate()
        assert process.returncode == 0, errors
        assert any("TASKORCH_BITBUCKET_API_URL=" in line for line in said)
        assert "stopped" in rest
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()
