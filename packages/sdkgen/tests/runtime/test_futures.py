"""Future handles: submit, then poll until the result, under the API's futures contract."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIResponseValidationError,
    AsyncFutureHandle,
    BadRequestError,
    FutureCancelledError,
    FutureExpiredError,
    FutureHandle,
    FutureTimeoutError,
    GoneError,
    NotFoundError,
    RequestFailedError,
)
from tests.runtime._support import (
    API_SPEC,
    AsyncFactory,
    AsyncTestClient,
    SyncFactory,
    SyncTestClient,
    async_client_class,
    endpoint,
    sync_client_class,
    url,
)

POLL_URL = url("/futures/retrieve")
SUBMIT_URL = url("/jobs")
assert API_SPEC.futures is not None
# Sleep a little between "not yet" replies, for the tests that run out a timeout.
SLOW_POLL_API = dataclasses.replace(
    API_SPEC, futures=dataclasses.replace(API_SPEC.futures, poll_interval=0.005)
)
# Sleep "forever" between polls, for the test that cancels a sleeping waiter.
VERY_SLOW_POLL_API = dataclasses.replace(
    API_SPEC, futures=dataclasses.replace(API_SPEC.futures, poll_interval=60.0)
)


class Result(BaseModel):
    value: int


def pending(state: str | None = None, reason: str | None = None) -> dict[str, Any]:
    reply: dict[str, Any] = {"type": "try_again", "request_id": "req-1"}
    if state is not None:
        reply["queue_state"] = state
    if reason is not None:
        reply["queue_state_reason"] = reason
    return reply


def submit(client: SyncTestClient, **kwargs: Any) -> FutureHandle[dict[str, Any], Result]:
    return client.submit(endpoint("submit_job"), dict, Result, body={"job": "train"}, **kwargs)


async def asubmit(
    client: AsyncTestClient, **kwargs: Any
) -> AsyncFutureHandle[dict[str, Any], Result]:
    return await client.submit(
        endpoint("submit_job"), dict, Result, body={"job": "train"}, **kwargs
    )


def poll_requests(httpx_mock: HTTPXMock) -> list[httpx.Request]:
    return httpx_mock.get_requests(url=POLL_URL)


@pytest.fixture(autouse=True)
def _submission(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "req-1"})


# -- sync --------------------------------------------------------------------------------------


def test_pending_replies_are_polled_until_the_result(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json=pending())
    httpx_mock.add_response(url=POLL_URL, json=pending())
    httpx_mock.add_response(url=POLL_URL, json={"value": 42})
    handle = submit(client)
    assert handle.request_id == "req-1"
    assert handle.submission == {"request_id": "req-1"}
    assert not handle.done()
    assert "pending" in repr(handle)
    assert handle.result() == Result(value=42)
    assert handle.done()
    assert handle.polls == 3
    bodies = [json.loads(r.content) for r in poll_requests(httpx_mock)]
    assert bodies == [{"request_id": "req-1"}] * 3


def test_queue_state_observer_is_called_on_change(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    seen: list[tuple[str, str | None]] = []
    httpx_mock.add_response(url=POLL_URL, json=pending("active"))
    httpx_mock.add_response(url=POLL_URL, json=pending("active"))
    httpx_mock.add_response(url=POLL_URL, json=pending("paused_capacity", "cluster busy"))
    httpx_mock.add_response(url=POLL_URL, json=pending("paused_capacity", "cluster busy"))
    httpx_mock.add_response(url=POLL_URL, json={"value": 1})
    handle = submit(client, on_queue_state=lambda state, reason: seen.append((state, reason)))
    assert handle.result() == Result(value=1)
    assert seen == [("active", None), ("paused_capacity", "cluster busy"), ("active", None)]
    assert handle.queue_state == "active"


def test_failed_reply_raises_request_failed_with_category(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json=pending())
    httpx_mock.add_response(url=POLL_URL, json={"error": "out of memory", "category": "server"})
    handle = submit(client)
    with pytest.raises(RequestFailedError) as info:
        handle.result()
    assert info.value.category == "server"
    assert "out of memory" in str(info.value)
    assert info.value.request_id == "req-1"
    assert "submit_job" in str(info.value)


def test_failed_reply_without_category(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"error": None})
    with pytest.raises(RequestFailedError) as info:
        submit(client).result()
    assert info.value.category == "unknown"
    assert "the request failed" in str(info.value)


def test_410_raises_future_expired(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=410, json={"detail": "expired"})
    handle = submit(client)
    with pytest.raises(FutureExpiredError) as info:
        handle.result()
    assert info.value.status_code == 410
    assert "req-1" in str(info.value)
    assert isinstance(info.value.__cause__, GoneError)
    assert len(poll_requests(httpx_mock)) == 1


@pytest.mark.parametrize("status", [408, 500, 503])
def test_timeouts_and_server_errors_are_polled_again(
    client: SyncTestClient, httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=status)
    httpx_mock.add_response(url=POLL_URL, status_code=status)
    httpx_mock.add_response(url=POLL_URL, json={"value": 7})
    assert submit(client).result() == Result(value=7)
    assert len(poll_requests(httpx_mock)) == 3


def test_status_error_body_can_carry_the_queue_state(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    seen: list[str] = []
    httpx_mock.add_response(
        url=POLL_URL, status_code=408, json={"queue_state": "paused_rate_limit"}
    )
    httpx_mock.add_response(url=POLL_URL, json={"value": 7})
    submit(client, on_queue_state=lambda state, _reason: seen.append(state)).result()
    assert seen == ["paused_rate_limit", "active"]


def test_429_backs_off_and_polls_again(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=429)
    httpx_mock.add_response(url=POLL_URL, status_code=429)
    httpx_mock.add_response(url=POLL_URL, json={"value": 3})
    handle = submit(client)
    assert handle.result() == Result(value=3)
    assert handle.polls == 3


def test_backoff_waits_grow_and_are_capped(
    make_client: SyncFactory, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert API_SPEC.futures is not None
    api = dataclasses.replace(
        API_SPEC, futures=dataclasses.replace(API_SPEC.futures, max_backoff=4.0)
    )
    for _ in range(4):
        httpx_mock.add_response(url=POLL_URL, status_code=429)
    httpx_mock.add_response(url=POLL_URL, json=pending())  # a normal reply resets the backoff
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=POLL_URL)
    httpx_mock.add_response(url=POLL_URL, json={"value": 1})
    handle = submit(make_client(sync_client_class(api)))
    waits: list[float] = []
    # Record the waits instead of sleeping them.
    monkeypatch.setattr(handle, "_sleep", lambda seconds, _deadline: waits.append(seconds))
    assert handle.result() == Result(value=1)
    assert waits == [1.0, 2.0, 4.0, 4.0, 0.0, 1.0]


def test_connection_errors_and_poll_timeouts_poll_again(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=POLL_URL)
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=POLL_URL)
    httpx_mock.add_response(url=POLL_URL, json={"value": 5})
    assert submit(client).result() == Result(value=5)
    assert len(poll_requests(httpx_mock)) == 3


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (404, NotFoundError)])
def test_other_client_errors_are_raised(
    client: SyncTestClient, httpx_mock: HTTPXMock, status: int, cls: type[Exception]
) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=status, json={"detail": "nope"})
    handle = submit(client)
    with pytest.raises(cls):
        handle.result()
    assert len(poll_requests(httpx_mock)) == 1


def test_result_not_matching_its_type_is_a_validation_error(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": "not a number"})
    with pytest.raises(APIResponseValidationError, match="field `value`"):
        submit(client).result()


def test_result_timeout_leaves_the_handle_usable(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    ready = threading.Event()

    def poll(_request: httpx.Request) -> httpx.Response:
        if ready.is_set():
            return httpx.Response(200, json={"value": 9})
        return httpx.Response(200, json=pending("paused_capacity"))

    httpx_mock.add_callback(poll, url=POLL_URL, is_reusable=True)
    handle = submit(make_client(sync_client_class(SLOW_POLL_API)))
    with pytest.raises(FutureTimeoutError) as info:
        handle.result(timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert "req-1" in str(info.value)
    assert "paused_capacity" in str(info.value)
    assert not handle.done()
    polls_before = handle.polls
    assert polls_before >= 1
    ready.set()
    assert handle.result(timeout=5) == Result(value=9)
    assert handle.polls > polls_before


def test_a_second_waiter_keeps_its_own_timeout(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    ready = threading.Event()
    polled = threading.Event()

    def poll(_request: httpx.Request) -> httpx.Response:
        polled.set()
        if ready.is_set():
            return httpx.Response(200, json={"value": 4})
        return httpx.Response(200, json=pending())

    httpx_mock.add_callback(poll, url=POLL_URL, is_reusable=True)
    handle = submit(make_client(sync_client_class(SLOW_POLL_API)))
    first: list[object] = []
    waiter = threading.Thread(target=lambda: first.append(handle.result(timeout=20)), daemon=True)
    waiter.start()
    assert polled.wait(10)  # the first waiter holds the handle and is polling
    with pytest.raises(FutureTimeoutError):
        handle.result(timeout=0.05)  # must not queue behind the first waiter's 20 s
    assert waiter.is_alive()
    assert first == []
    ready.set()
    waiter.join(10)
    assert first == [Result(value=4)]
    assert handle.result(timeout=0) == Result(value=4)


def test_zero_timeout_raises_without_polling(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    handle = submit(client)
    with pytest.raises(FutureTimeoutError):
        handle.result(timeout=0)
    assert poll_requests(httpx_mock) == []


def test_cancel_stops_polling(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json=pending("active"))
    handles: list[FutureHandle[dict[str, Any], Result]] = []

    def observer(_state: str, _reason: str | None) -> None:
        handles[0].cancel()

    handles.append(submit(client, on_queue_state=observer))
    with pytest.raises(FutureCancelledError):
        handles[0].result(timeout=10)
    assert handles[0].cancelled()
    assert len(poll_requests(httpx_mock)) == 1
    with pytest.raises(FutureCancelledError):  # and it stays cancelled
        handles[0].result(timeout=10)
    assert len(poll_requests(httpx_mock)) == 1


def test_cancel_wakes_a_sleeping_waiter(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    polled = threading.Event()

    def poll(_request: httpx.Request) -> httpx.Response:
        polled.set()
        return httpx.Response(200, json=pending())

    httpx_mock.add_callback(poll, url=POLL_URL)
    handle = submit(make_client(sync_client_class(VERY_SLOW_POLL_API)))
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            handle.result(timeout=30)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    assert polled.wait(10)
    handle.cancel()
    waiter.join(10)  # the waiter sleeps 60 s between polls unless cancel() wakes it
    assert not waiter.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], FutureCancelledError)


def test_result_is_cached(client: SyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": 11})
    handle = submit(client)
    first = handle.result()
    assert handle.result() is first
    assert handle.result(timeout=0) is first
    assert len(poll_requests(httpx_mock)) == 1
    assert "done" in repr(handle)


class RicherResult(Result):
    """A hand-written type over the declared one, as an SDK's own layer has."""

    def doubled(self) -> int:
        return 2 * self.value


def test_result_as_decodes_into_a_subclass_of_the_declared_type(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json=pending())
    httpx_mock.add_response(url=POLL_URL, json={"value": 21})
    handle = submit(client)
    richer = handle.result_as(RicherResult)
    assert richer is handle  # the same handle: its polling state carries on
    result = richer.result()
    assert type(result) is RicherResult
    assert result.doubled() == 42


def test_result_as_refuses_an_unrelated_type_and_a_finished_handle(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": 1})
    handle = submit(client)
    with pytest.raises(TypeError, match="subclass of the declared result type Result"):
        handle.result_as(dict)
    assert handle.result() == Result(value=1)
    with pytest.raises(RuntimeError, match="before the result is read"):
        handle.result_as(RicherResult)
    assert type(handle.result()) is Result  # unchanged by the refused call


def test_submission_without_request_id_is_refused(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.reset()  # replace the usual submission reply
    httpx_mock.add_response(url=SUBMIT_URL, json={"status": "queued"})
    with pytest.raises(TypeError, match="`request_id`"):
        submit(client)
    assert poll_requests(httpx_mock) == []


def test_api_without_futures_contract_is_refused(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(sync_client_class(dataclasses.replace(API_SPEC, futures=None)))
    with pytest.raises(TypeError, match="no futures contract"):
        submit(client)


# -- async -------------------------------------------------------------------------------------


async def test_async_pending_replies_are_polled_until_the_result(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    seen: list[str] = []
    httpx_mock.add_response(url=POLL_URL, json=pending("active"))
    httpx_mock.add_response(url=POLL_URL, json=pending("paused_capacity"))
    httpx_mock.add_response(url=POLL_URL, json={"value": 42})
    handle = await asubmit(aclient, on_queue_state=lambda state, _r: seen.append(state))
    assert await handle.result() == Result(value=42)
    assert handle.polls == 3
    assert seen == ["active", "paused_capacity", "active"]


async def test_async_result_as_decodes_into_the_subclass(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": 5})
    handle = (await asubmit(aclient)).result_as(RicherResult)
    result = await handle.result()
    assert type(result) is RicherResult
    assert result.doubled() == 10


async def test_async_failed_reply(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"error": "bad input", "category": "user"})
    handle = await asubmit(aclient)
    with pytest.raises(RequestFailedError) as info:
        await handle.result()
    assert info.value.category == "user"


async def test_async_410_expires(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=410)
    handle = await asubmit(aclient)
    with pytest.raises(FutureExpiredError):
        await handle.result()


async def test_async_retry_and_backoff_statuses(
    aclient: AsyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=408)
    httpx_mock.add_response(url=POLL_URL, status_code=502)
    httpx_mock.add_response(url=POLL_URL, status_code=429)
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=POLL_URL)
    httpx_mock.add_response(url=POLL_URL, json={"value": 2})
    handle = await asubmit(aclient)
    assert await handle.result() == Result(value=2)
    assert len(poll_requests(httpx_mock)) == 5


async def test_async_other_4xx_raised(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, status_code=400)
    handle = await asubmit(aclient)
    with pytest.raises(BadRequestError):
        await handle.result()


async def test_async_result_timeout_leaves_the_handle_usable(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    ready = False

    def poll(_request: httpx.Request) -> httpx.Response:
        if ready:
            return httpx.Response(200, json={"value": 9})
        return httpx.Response(200, json=pending())

    httpx_mock.add_callback(poll, url=POLL_URL, is_reusable=True)
    handle = await asubmit(make_async_client(async_client_class(SLOW_POLL_API)))
    with pytest.raises(FutureTimeoutError) as info:
        await handle.result(timeout=0.05)
    assert isinstance(info.value, TimeoutError)
    assert not handle.done()
    ready = True
    assert await handle.result(timeout=5) == Result(value=9)


async def test_async_second_waiter_keeps_its_own_timeout(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    ready = False
    polled = asyncio.Event()

    def poll(_request: httpx.Request) -> httpx.Response:
        polled.set()
        if ready:
            return httpx.Response(200, json={"value": 4})
        return httpx.Response(200, json=pending())

    httpx_mock.add_callback(poll, url=POLL_URL, is_reusable=True)
    handle = await asubmit(make_async_client(async_client_class(SLOW_POLL_API)))
    first = asyncio.create_task(handle.result(timeout=20))
    await asyncio.wait_for(polled.wait(), 10)  # the first waiter holds the handle and polls
    with pytest.raises(FutureTimeoutError):
        await handle.result(timeout=0.05)
    assert not first.done()
    ready = True
    assert await asyncio.wait_for(first, 10) == Result(value=4)
    assert await handle.result(timeout=0) == Result(value=4)


async def test_async_cancel_stops_polling(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json=pending("active"))
    handles: list[AsyncFutureHandle[dict[str, Any], Result]] = []
    handles.append(await asubmit(aclient, on_queue_state=lambda _s, _r: handles[0].cancel()))
    with pytest.raises(FutureCancelledError):
        await handles[0].result(timeout=10)
    assert handles[0].cancelled()
    assert len(poll_requests(httpx_mock)) == 1


async def test_async_result_is_cached(aclient: AsyncTestClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": 11})
    handle = await asubmit(aclient)
    first = await handle.result()
    assert await handle.result() is first
    assert len(poll_requests(httpx_mock)) == 1


# -- the one-pass result path ------------------------------------------------------------------


class Loose(BaseModel):
    """A result type that would accept a "not yet" reply too (every field optional)."""

    value: int | None = None
    note: str | None = None


def test_a_reply_with_a_marker_is_never_taken_for_the_result(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    # Escaped, so no marker appears literally: the reply must still be read as "not yet".
    escaped = b'{"type": "try\\u005fagain", "request_id": "req-1"}'
    httpx_mock.add_response(url=POLL_URL, content=escaped)
    httpx_mock.add_response(url=POLL_URL, json=pending())
    # A result that happens to contain a marker word goes through the two-pass path.
    httpx_mock.add_response(url=POLL_URL, json={"value": 1, "note": "error"})
    handle = client.submit(endpoint("submit_job"), dict, Loose, body={"job": "train"})
    assert handle.result() == Loose(value=1, note="error")
    assert handle.polls == 3


def test_a_result_is_validated_once_from_its_bytes(
    client: SyncTestClient, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdkgen.runtime import _futures

    def no_second_pass(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a plain result must not be parsed and then validated again")

    monkeypatch.setattr(_futures, "validate_data", no_second_pass)
    httpx_mock.add_response(url=POLL_URL, json={"value": 5})
    assert submit(client).result() == Result(value=5)


def test_an_invalid_plain_result_still_says_which_field(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=POLL_URL, json={"value": "five"})
    with pytest.raises(APIResponseValidationError, match="value"):
        submit(client).result()
