"""An endpoint's backpressure statuses: a process-wide window, then the same request again."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import BackpressureSpec, EndpointSpec, RateLimitError, RetryInfo
from sdkgen.runtime._backpressure import _WINDOWS
from tests.runtime._support import AsyncTestClient, SyncFactory, SyncTestClient, endpoint

RULE = BackpressureSpec(statuses=(429,), window=0.2, large_window=0.6, large_body=100)


def _create(retry: str = "none", rule: BackpressureSpec | None = RULE) -> EndpointSpec:
    return dataclasses.replace(endpoint("create_item"), retry=retry, backpressure=rule)


@pytest.fixture(autouse=True)
def _fresh_windows() -> Iterator[None]:
    _WINDOWS.clear()
    yield
    _WINDOWS.clear()


def test_a_refusal_is_waited_out_and_the_same_request_sent_again(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    retries: list[RetryInfo] = []
    client = make_client(on_retry=retries.append)
    httpx_mock.add_response(status_code=429, json={"detail": "busy"})
    httpx_mock.add_response(json={"id": "1"})
    start = time.monotonic()
    assert client.request(_create(), dict, body={"name": "x"}) == {"id": "1"}
    assert time.monotonic() - start >= 0.18  # the window (0.2 s for a small body)
    first, second = httpx_mock.get_requests()
    assert first.content == second.content
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    # resent in full, not as a retry of the policy ("none" allows no retry at all)
    assert [r.headers["X-Retry-Count"] for r in (first, second)] == ["0", "0"]
    assert [(r.endpoint, r.attempt) for r in retries] == [("create_item", 0)]
    assert 0.1 < retries[0].wait <= 0.2
    assert isinstance(retries[0].cause, RateLimitError)


def test_a_body_over_large_body_waits_the_large_window(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"id": "1"})
    start = time.monotonic()
    client.request(_create(), dict, body={"name": "x" * 200})
    assert time.monotonic() - start >= 0.55


def test_the_window_holds_back_every_call_to_the_endpoint(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"id": "1"}, is_reusable=True)
    one, other = make_client(), make_client()
    one.request(_create(), dict, body={"name": "x"})
    start = time.monotonic()
    _WINDOWS[("testapi", "create_item")].open(0.3)  # as another call's refusal would
    other.request(_create(), dict, body={"name": "y"})
    assert time.monotonic() - start >= 0.25  # another client's call waited too


def test_a_status_not_in_the_rule_is_raised(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503)
    with pytest.raises(Exception, match="503"):
        client.request(_create(), dict, body={"name": "x"})
    assert len(httpx_mock.get_requests()) == 1


def test_without_a_rule_a_429_is_the_retry_policys(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=429)
    with pytest.raises(RateLimitError):
        client.request(_create(rule=None), dict, body={"name": "x"})
    assert len(httpx_mock.get_requests()) == 1
    assert not _WINDOWS


def test_each_resend_gets_the_whole_retry_budget(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    # policy "default" allows 2 retries: 503, 503, 429 (window), then 503, 503, 200
    for status in (503, 503, 429, 503, 503):
        httpx_mock.add_response(status_code=status)
    httpx_mock.add_response(json={"id": "1"})
    assert client.request(_create(retry="default"), dict, body={"name": "x"}) == {"id": "1"}
    counts = [r.headers["X-Retry-Count"] for r in httpx_mock.get_requests()]
    assert counts == ["0", "1", "2", "0", "1", "2"]


async def test_the_async_twin_waits_and_resends_too(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json={"id": "1"})
    start = time.monotonic()
    assert await aclient.request(_create(), dict, body={"name": "x"}) == {"id": "1"}
    assert time.monotonic() - start >= 0.35  # two windows
    contents = {r.content for r in httpx_mock.get_requests()}
    assert len(contents) == 1


def test_window_after_picks_by_body_size() -> None:
    assert RULE.window_after(100) == 0.2
    assert RULE.window_after(101) == 0.6
    assert BackpressureSpec(window=1.0).window_after(10**9) == 1.0
    assert RULE.refuses(429)
    assert not RULE.refuses(503)
    assert BackpressureSpec(statuses=("5xx",)).refuses(503)
