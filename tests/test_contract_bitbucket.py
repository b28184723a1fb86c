"""Every request the Bitbucket Cloud adapter sends is valid for Atlassian's official description.

A Prism mock serves the description (from ``../shared``, trimmed by ``prism.sh``) on 127.0.0.1 at
``/2.0`` and validates each request: an invalid one gets 422 or an ``sl-violations`` header entry
located in the request. Its answers are generated from the description, so these tests check
requests, never answers' content.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import suppress

import httpx
import pytest

from prism_mock import Recorder, private_cache, request_violations, served
from taskorch.errors import PlatformError
from taskorch.platforms.bitbucket import BitbucketPlatform

pytestmark = pytest.mark.slow

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = private_cache(tmp_path_factory.mktemp("contract-cache"))
    with served("bitbucket", env, title="Bitbucket") as url:
        yield url


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module", params=["bearer", "basic"])
def bitbucket(prism_url: str, recorder: Recorder, request: pytest.FixtureRequest) -> Iterator[BitbucketPlatform]:
    username = "ada@example.com" if request.param == "basic" else None
    platform = BitbucketPlatform.connect(
        "test-token", "acme/shop", base_url=prism_url, username=username, transport=recorder
    )
    yield platform
    platform.close()


Operation = Callable[[BitbucketPlatform], object]

# (name, the call, the (method, path pattern) it must send)
OPERATIONS: list[tuple[str, Operation, tuple[str, str]]] = [
    ("get_repository", lambda bb: bb.get_repository(), ("GET", r"/2\.0/repositories/acme/shop")),
    ("list_tags", lambda bb: bb.list_tags(), ("GET", r"/2\.0/repositories/acme/shop/refs/tags")),
    ("get_tag", lambda bb: bb.get_tag("v1.0.0"), ("GET", r"/2\.0/repositories/acme/shop/refs/tags/v1\.0\.0")),
    (
        "create_tag",
        lambda bb: bb.create_tag("v1.0.0", SHA, "Release v1.0.0\n\n## Added\n\n- Cart"),
        ("POST", r"/2\.0/repositories/acme/shop/refs/tags"),
    ),
]


@pytest.mark.parametrize(("name", "operation", "expected"), OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_request_is_valid_for_bitbuckets_description(
    bitbucket: BitbucketPlatform, recorder: Recorder, name: str, operation: Operation, expected: tuple[str, str]
) -> None:
    recorder.exchanges.clear()
    # The answers are generated from the description, so a failure to interpret them is not what
    # is tested here; every request is.
    with suppress(PlatformError):
        operation(bitbucket)
    assert recorder.exchanges, f"{name} sent no request"
    method, pattern = expected
    assert any(x.method == method and re.fullmatch(pattern, x.path) for x in recorder.exchanges), recorder.exchanges
    for exchange in recorder.exchanges:
        assert exchange.status != 422, f"{exchange.method} {exchange.path} rejected: {exchange.violations}"
        assert not exchange.violations, f"{exchange.method} {exchange.path}: {exchange.violations}"
        assert exchange.status < 400, f"{exchange.method} {exchange.path} answered {exchange.status}"


def test_the_mock_does_flag_an_invalid_request(prism_url: str) -> None:
    """The check above can fail: a tag whose name is not a string is flagged."""
    response = httpx.post(
        f"{prism_url}/repositories/acme/shop/refs/tags",
        json={"name": 7, "target": {"hash": SHA}},
        headers={"Authorization": "Bearer t"},
    )
    assert response.status_code == 422 or request_violations(response)
