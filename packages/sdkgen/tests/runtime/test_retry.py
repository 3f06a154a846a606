"""The retry policy: what is retried, how long to wait, headers per attempt, and giving up."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stamina
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RequestOptions,
    RetryInfo,
    RetryPolicy,
    backoff_delay,
    retry_after_seconds,
)
from sdkgen.runtime._errors import status_error_class
from sdkgen.runtime._retry import RetryState
from tests.runtime._support import FAST, AsyncFactory, SyncFactory, SyncTestClient, endpoint, url


@pytest.fixture
def no_sleep() -> Iterator[None]:
    """stamina's test mode: the hook still computes waits, but nothing actually sleeps."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def _status_exc(status: int, headers: dict[str, str] | None = None) -> APIStatusError:
    request = httpx.Request("POST", url("/x"))
    response = httpx.Response(status, headers=headers or {}, request=request)
    return status_error_class(status)("boom", response=response, endpoint="x")


# -- which failures are retried ----------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(
    client: SyncTestClient, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(status_code=status, json={"detail": "try later"})
    httpx_mock.add_response(status_code=status, json={"detail": "try later"})
    httpx_mock.add_response(json={"id": "1"})
    assert client.request(endpoint("create_item"), dict, body={"name": "x"}) == {"id": "1"}
    assert len(httpx_mock.get_requests()) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(
    make_client: SyncFactory, httpx_mock: HTTPXMock, status: int
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=status, json={"detail": "no"})
    with pytest.raises(APIStatusError) as info:
        client.request(endpoint("create_item"), dict, body={"name": "x"})
    assert info.value.status_code == status
    assert info.value.attempts == 1
    assert len(httpx_mock.get_requests()) == 1


def test_policy_retry_statuses_decide(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=500)
    with pytest.raises(InternalServerError):
        client.request(endpoint("only503"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1
    httpx_mock.reset()
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={})
    assert client.request(endpoint("only503"), dict, body={}) == {}
    assert len(httpx_mock.get_requests()) == 2


def test_connection_errors_are_retried(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    # A read error after sending is resent only where the server deduplicates.
    client = make_client(resend_ambiguous=True)
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.ReadError("reset by peer"))
    httpx_mock.add_response(json={"ok": 1})
    assert client.request(endpoint("create_item"), dict, body={}) == {"ok": 1}
    assert len(httpx_mock.get_requests()) == 3


def test_connection_errors_not_retried_when_policy_says_so(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        client.request(endpoint("noconn"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_x_should_retry_false_stops_a_retryable_status(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=503, headers={"x-should-retry": "false"})
    with pytest.raises(InternalServerError):
        client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_x_should_retry_true_forces_retry_of_a_400(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=400, headers={"x-should-retry": "true"})
    httpx_mock.add_response(json={"done": True})
    assert client.request(endpoint("create_item"), dict, body={}) == {"done": True}
    assert len(httpx_mock.get_requests()) == 2


def test_x_should_retry_true_does_not_exceed_the_attempt_budget(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    for _ in range(3):
        httpx_mock.add_response(status_code=400, headers={"x-should-retry": "true"})
    with pytest.raises(BadRequestError) as info:
        client.request(endpoint("create_item"), dict, body={})
    assert info.value.attempts == 3
    assert len(httpx_mock.get_requests()) == 3


# -- the server's requested wait ---------------------------------------------------------------


def test_retry_after_ms() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25


def test_retry_after_ms_wins_over_retry_after() -> None:
    headers = httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})
    assert retry_after_seconds(headers) == 1.5


def test_invalid_retry_after_ms_falls_back_to_retry_after() -> None:
    headers = httpx.Headers({"retry-after-ms": "soon", "retry-after": "3"})
    assert retry_after_seconds(headers) == 3.0


@pytest.mark.parametrize(("raw", "expected"), [("7", 7.0), ("0.5", 0.5), ("-4", 0.0)])
def test_retry_after_seconds_values(raw: str, expected: float) -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": raw})) == expected


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": date}), now=now) == pytest.approx(42.0)


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now - 600, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": date}), now=now) == 0.0


@pytest.mark.parametrize("headers", [{}, {"retry-after": "whenever"}, {"retry-after": ""}])
def test_retry_after_absent_or_garbage_is_none(headers: dict[str, str]) -> None:
    assert retry_after_seconds(httpx.Headers(headers)) is None


def _state(
    policy: RetryPolicy, reports: list[RetryInfo], deadline: float | None = None
) -> RetryState:
    state = RetryState(policy, endpoint="ep", deadline=deadline, report=reports.append)
    state.next_attempt()
    return state


def test_wait_for_honours_retry_after() -> None:
    reports: list[RetryInfo] = []
    state = _state(FAST, reports)
    exc = _status_exc(429, {"retry-after": "2"})
    assert state.wait_for(exc) == 2.0
    assert len(reports) == 1
    assert reports[0].wait == 2.0
    assert reports[0].attempt == 1
    assert reports[0].cause is exc
    assert reports[0].endpoint == "ep"


def test_wait_for_honours_retry_after_ms_and_date() -> None:
    reports: list[RetryInfo] = []
    state = _state(FAST, reports)
    assert state.wait_for(_status_exc(503, {"retry-after-ms": "40"})) == pytest.approx(0.04)
    state.next_attempt()
    date = email.utils.formatdate(time.time() + 4, usegmt=True)
    wait = state.wait_for(_status_exc(503, {"retry-after": date}))
    assert isinstance(wait, float)
    assert 2.0 < wait <= 4.0


def test_wait_for_retry_after_above_cap_falls_back_to_backoff() -> None:
    reports: list[RetryInfo] = []
    state = _state(FAST, reports)
    wait = state.wait_for(_status_exc(429, {"retry-after": str(FAST.retry_after_cap + 1)}))
    assert isinstance(wait, float)
    assert FAST.initial_delay * (1 - FAST.jitter) <= wait <= FAST.initial_delay


def test_wait_for_gives_up_when_attempts_are_spent() -> None:
    reports: list[RetryInfo] = []
    state = _state(dataclasses.replace(FAST, max_retries=1), reports)
    exc = _status_exc(503)
    assert state.wait_for(exc) is not False
    state.next_attempt()
    assert state.wait_for(exc) is False
    assert len(reports) == 1


def test_wait_for_refuses_non_retryable_and_foreign_errors() -> None:
    reports: list[RetryInfo] = []
    state = _state(FAST, reports)
    assert state.wait_for(_status_exc(404)) is False
    assert state.wait_for(ValueError("not an API error")) is False
    assert reports == []


def test_wait_for_gives_up_when_the_wait_would_pass_the_deadline() -> None:
    reports: list[RetryInfo] = []
    state = _state(FAST, reports, deadline=1.0)
    assert state.wait_for(_status_exc(503, {"retry-after": "3"})) is False
    assert state.wait_for(_status_exc(503, {"retry-after-ms": "10"})) == pytest.approx(0.01)


def test_hook_sees_retry_after_values(
    make_client: SyncFactory, httpx_mock: HTTPXMock, no_sleep: None
) -> None:
    seen: list[RetryInfo] = []
    client = make_client(on_retry=seen.append, max_retries=4)
    date = email.utils.formatdate(time.time() + 4, usegmt=True)
    httpx_mock.add_response(status_code=429, headers={"retry-after-ms": "1250"})
    httpx_mock.add_response(status_code=429, headers={"retry-after": "3"})
    httpx_mock.add_response(status_code=503, headers={"retry-after": date})
    httpx_mock.add_response(status_code=503, headers={"retry-after": "3600"})  # above the cap
    httpx_mock.add_response(json={})
    client.request(endpoint("create_item"), dict, body={})
    waits = [info.wait for info in seen]
    assert len(waits) == 4
    assert waits[0] == 1.25
    assert waits[1] == 3.0
    assert 2.0 < waits[2] <= 4.0
    assert waits[3] <= FAST.max_delay


# -- backoff -----------------------------------------------------------------------------------


def test_backoff_is_exponential_without_jitter() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=100.0, jitter=0.25)
    assert [backoff_delay(policy, n, rand=0.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=3.0, jitter=0.0)
    assert backoff_delay(policy, 10) == 3.0
    assert backoff_delay(policy, 2) == 2.0


def test_backoff_jitter_bounds() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, jitter=0.25)
    assert backoff_delay(policy, 0, rand=1.0) == 0.75
    for n in range(6):
        base = min(2.0**n, 8.0)
        for _ in range(50):
            delay = backoff_delay(policy, n)
            assert base * 0.75 <= delay <= base


def test_backoff_jitter_varies() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0, jitter=0.5)
    assert len({backoff_delay(policy, 1) for _ in range(20)}) > 1


# -- per-attempt headers -----------------------------------------------------------------------


def test_same_idempotency_key_on_every_attempt(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=500)
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(json={})
    client.request(endpoint("create_item"), dict, body={})
    keys = [r.headers.get("Idempotency-Key") for r in httpx_mock.get_requests()]
    assert len(keys) == 3
    assert keys[0]
    assert keys == [keys[0]] * 3


def test_each_call_gets_its_own_idempotency_key(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(json={}, is_reusable=True)
    client.request(endpoint("create_item"), dict, body={})
    client.request(endpoint("create_item"), dict, body={})
    keys = {r.headers["Idempotency-Key"] for r in httpx_mock.get_requests()}
    assert len(keys) == 2


def test_caller_idempotency_key_is_used_as_is(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={})
    client.request(
        endpoint("update_item"),
        dict,
        path_params={"item_id": "1"},
        body={},
        options=RequestOptions(idempotency_key="my-key-123"),
    )
    keys = [r.headers.get("Idempotency-Key") for r in httpx_mock.get_requests()]
    assert keys == ["my-key-123", "my-key-123"]


def test_no_idempotency_header_on_get(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    httpx_mock.add_response(json={})
    client.request(
        endpoint("get_item"),
        dict,
        path_params={"item_id": "1"},
        options=RequestOptions(idempotency_key="ignored-on-get"),
    )
    requests = httpx_mock.get_requests()
    assert len(requests) == 3
    assert all("Idempotency-Key" not in r.headers for r in requests)


def test_retry_count_header_counts_from_zero(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=502)
    httpx_mock.add_response(status_code=502)
    httpx_mock.add_response(json={})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    counts = [r.headers["X-Retry-Count"] for r in httpx_mock.get_requests()]
    assert counts == ["0", "1", "2"]


# -- budgets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (1, 2), (4, 5)])
def test_per_call_max_retries_overrides_the_policy(
    make_client: SyncFactory, httpx_mock: HTTPXMock, max_retries: int, attempts: int
) -> None:
    client = make_client()
    for _ in range(attempts):
        httpx_mock.add_response(status_code=503)
    with pytest.raises(InternalServerError) as info:
        client.request(
            endpoint("create_item"), dict, body={}, options=RequestOptions(max_retries=max_retries)
        )
    assert len(httpx_mock.get_requests()) == attempts
    assert info.value.attempts == attempts


def test_per_call_max_retries_can_enable_retries_on_a_no_retry_endpoint(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={"ok": True})
    result = client.request(endpoint("ping"), dict, body={}, options=RequestOptions(max_retries=1))
    assert result == {"ok": True}
    assert len(httpx_mock.get_requests()) == 2


def test_client_max_retries_tunes_retrying_endpoints(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(max_retries=4)
    for _ in range(5):
        httpx_mock.add_response(status_code=503)
    with pytest.raises(InternalServerError):
        client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 5


def test_client_max_retries_zero_disables_retries(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(max_retries=0)
    httpx_mock.add_response(status_code=503)
    with pytest.raises(InternalServerError):
        client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_client_max_retries_does_not_add_retries_to_a_no_retry_policy(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(max_retries=5)
    httpx_mock.add_response(status_code=503)
    with pytest.raises(InternalServerError):
        client.request(endpoint("ping"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_deadline_stops_retrying(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    seen: list[RetryInfo] = []
    client = make_client(on_retry=seen.append)
    # The server asks for 2 s, the call may only take 0.5 s in all: give up rather than wait.
    httpx_mock.add_response(status_code=503, headers={"retry-after": "2"})
    with pytest.raises(InternalServerError) as info:
        client.request(endpoint("create_item"), dict, body={}, options=RequestOptions(deadline=0.5))
    assert seen == []
    assert info.value.attempts == 1
    assert len(httpx_mock.get_requests()) == 1


def test_client_deadline_stops_retrying(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client(deadline=0.5)
    httpx_mock.add_response(status_code=429, headers={"retry-after": "3"})
    with pytest.raises(RateLimitError):
        client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_without_deadline_the_same_wait_is_taken(
    make_client: SyncFactory, httpx_mock: HTTPXMock, no_sleep: None
) -> None:
    seen: list[RetryInfo] = []
    client = make_client(on_retry=seen.append)
    httpx_mock.add_response(status_code=503, headers={"retry-after": "2"})
    httpx_mock.add_response(json={})
    client.request(endpoint("create_item"), dict, body={})
    assert [info.wait for info in seen] == [2.0]


# -- the on_retry hook and giving up -----------------------------------------------------------


def test_on_retry_hook_gets_attempt_wait_and_cause(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    seen: list[RetryInfo] = []
    client = make_client(on_retry=seen.append)
    httpx_mock.add_response(status_code=503, headers={"retry-after-ms": "3"})
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_response(json={})
    client.request(endpoint("create_item"), dict, body={})
    assert [info.attempt for info in seen] == [1, 2]
    assert seen[0].wait == 0.003
    assert isinstance(seen[0].cause, InternalServerError)
    assert seen[0].cause.status_code == 503
    assert isinstance(seen[1].cause, APIConnectionError)
    assert 0 < seen[1].wait <= FAST.max_delay
    assert all(info.endpoint == "create_item" for info in seen)
    assert seen[1].elapsed >= seen[0].elapsed >= 0


def test_a_retry_made_by_the_caller_is_reported_like_the_runtimes_own(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    seen: list[RetryInfo] = []
    events: list[Any] = []
    client = make_client(on_retry=seen.append)
    client.telemetry.add_listener(events.append)
    cause = APIConnectionError("refused", endpoint="create_item")
    info = RetryInfo(endpoint="create_item", attempt=2, wait=0.25, cause=cause, elapsed=0.0)
    client.report_retry(endpoint("create_item"), info)
    assert seen == [info]
    retries = [e for e in events if e.kind == "retry"]
    assert len(retries) == 1
    assert (retries[0].endpoint, retries[0].attempt, retries[0].wait) == ("create_item", 2, 0.25)
    assert retries[0].error_type == "APIConnectionError"
    assert httpx_mock.get_requests() == []  # reporting sends nothing


def test_giving_up_on_status_says_how_many_attempts(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    for _ in range(3):
        httpx_mock.add_response(status_code=500, json={"detail": "kaput"})
    with pytest.raises(InternalServerError) as info:
        client.request(endpoint("create_item"), dict, body={})
    err = info.value
    assert err.attempts == 3
    assert err.elapsed >= 0
    assert "kaput" in str(err)
    assert "gave up after 3 attempts over " in str(err)
    assert str(err).endswith("s)")


def test_giving_up_on_connection_errors_chains_the_httpx_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    errors = [httpx.ConnectError(f"refused #{i}") for i in range(3)]
    for exc in errors:
        httpx_mock.add_exception(exc)
    with pytest.raises(APIConnectionError) as info:
        client.request(endpoint("create_item"), dict, body={})
    err = info.value
    assert err.attempts == 3
    assert "gave up after 3 attempts over" in str(err)
    assert "refused #2" in str(err)
    assert err.__cause__ is errors[2]


def test_single_attempt_failure_does_not_claim_to_give_up(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=404)
    with pytest.raises(NotFoundError) as info:
        client.request(endpoint("create_item"), dict, body={})
    assert info.value.attempts == 1
    assert "gave up" not in str(info.value)


def test_stamina_test_mode_caps_attempts(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client(max_retries=5)
    for _ in range(2):
        httpx_mock.add_response(status_code=503)
    with stamina.set_testing(True, attempts=2, cap=True), pytest.raises(InternalServerError):
        client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 2


# -- async twin --------------------------------------------------------------------------------


async def test_async_retries_with_stable_key_and_counting_header(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    seen: list[RetryInfo] = []
    client = make_async_client(on_retry=seen.append, resend_ambiguous=True)
    httpx_mock.add_response(status_code=429, headers={"retry-after-ms": "2"})
    httpx_mock.add_exception(httpx.ReadTimeout("slow"))
    httpx_mock.add_response(json={"ok": True})
    assert await client.request(endpoint("create_item"), dict, body={}) == {"ok": True}
    requests = httpx_mock.get_requests()
    assert [r.headers["X-Retry-Count"] for r in requests] == ["0", "1", "2"]
    assert len({r.headers["Idempotency-Key"] for r in requests}) == 1
    assert [info.attempt for info in seen] == [1, 2]


async def test_async_gives_up_with_attempt_count(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_async_client()
    last = httpx.ConnectError("refused last")
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(httpx.ConnectError("refused"))
    httpx_mock.add_exception(last)
    with pytest.raises(APIConnectionError) as info:
        await client.request(endpoint("create_item"), dict, body={})
    assert info.value.attempts == 3
    assert "gave up after 3 attempts" in str(info.value)
    assert info.value.__cause__ is last


async def test_async_non_retryable_status(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_async_client()
    httpx_mock.add_response(status_code=400, json={"detail": "bad"})
    with pytest.raises(BadRequestError):
        await client.request(endpoint("create_item"), dict, body={})
    assert len(httpx_mock.get_requests()) == 1


def test_a_first_attempt_that_succeeds_never_enters_the_retry_loop(
    client: SyncTestClient, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdkgen.runtime import _client

    def no_retry_loop(call: Any) -> Any:
        raise AssertionError("the retry machinery is for calls whose first attempt failed")

    monkeypatch.setattr(_client, "_retry_context", no_retry_loop)
    httpx_mock.add_response(json={"id": "1"})
    assert client.request(endpoint("create_item"), dict, body={"name": "x"}) == {"id": "1"}


def test_a_failed_first_attempt_is_waited_out_by_the_retry_loop(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    seen: list[RetryInfo] = []
    client._on_retry = seen.append
    httpx_mock.add_response(status_code=503, headers={"retry-after-ms": "1"})
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={"id": "1"})
    assert client.request(endpoint("create_item"), dict, body={"name": "x"}) == {"id": "1"}
    # Both waits were decided by the policy, the first from the server's retry-after-ms.
    assert [(i.attempt, i.wait) for i in seen][:1] == [(1, 0.001)]
    assert [i.attempt for i in seen] == [1, 2]
    assert len(httpx_mock.get_requests()) == 3
