"""The polling contract of futures (issue 11): several pending values, failed values, dotted
field paths, the server's "poll again in" hints, and the default interval with its backoff."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APISpec,
    FutureHandle,
    FuturesSpec,
    FutureTimeoutError,
    RequestFailedError,
    SyncAPIClient,
)
from tests.runtime._support import (
    API_SPEC,
    AsyncFactory,
    StartHTTPServer,
    SyncFactory,
    async_client_class,
    endpoint,
    sync_client_class,
    url,
)

POLL_URL = url("/futures/retrieve")
SUBMIT_URL = url("/jobs")

# A job API of the kind other teams have: a nested status, several "not yet" states, several
# failed ones, and a hint of when to poll again in the body.
CONTRACT = FuturesSpec(
    poll_endpoint="retrieve_future",
    pending_field="status.state",
    pending_value=("queued", "running"),
    failed_field="status.state",
    failed_values=("failed", "cancelled"),
    message_field="status.detail.message",
    category_field="status.detail.kind",
    queue_state_field="status.state",
    poll_after_field="hints.retry_after_ms",
    poll_after_unit="ms",
)
API = dataclasses.replace(API_SPEC, futures=CONTRACT)


class Result(BaseModel):
    value: int


def _api(**changes: Any) -> APISpec:
    return dataclasses.replace(API, futures=dataclasses.replace(CONTRACT, **changes))


def _submit(client: SyncAPIClient) -> FutureHandle[dict[str, Any], Result]:
    return client.submit(endpoint("submit_job"), dict, Result, body={"job": "x"})


def _state(state: str, **extra: Any) -> dict[str, Any]:
    return {"status": {"state": state}, **extra}


def _recorded(handle: FutureHandle[Any, Any], monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between polls, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(handle, "_sleep", lambda seconds, _deadline: waits.append(seconds))
    return waits


@pytest.fixture
def mocked(httpx_mock: HTTPXMock) -> HTTPXMock:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r-1"})
    return httpx_mock


# -- values and paths ----------------------------------------------------------------------------


def test_every_pending_value_means_not_yet(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocked.add_response(url=POLL_URL, json=_state("queued"))
    mocked.add_response(url=POLL_URL, json=_state("running"))
    mocked.add_response(url=POLL_URL, json={"value": 7})
    states: list[str] = []
    client = make_client(sync_client_class(API))
    handle = client.submit(
        endpoint("submit_job"),
        dict,
        Result,
        body={"job": "x"},
        on_queue_state=lambda state, _reason: states.append(state),
    )
    _recorded(handle, monkeypatch)
    assert handle.result(timeout=5) == Result(value=7)
    assert handle.polls == 3
    assert states == ["queued", "running"]  # the queue state read through its dotted path


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_a_failed_value_raises_with_the_servers_message(
    make_client: SyncFactory, mocked: HTTPXMock, state: str
) -> None:
    detail = {"message": f"job {state}: disk full", "kind": "server"}
    mocked.add_response(url=POLL_URL, json={"status": {"state": state, "detail": detail}})
    with pytest.raises(RequestFailedError, match=f"job {state}: disk full") as caught:
        _submit(make_client(sync_client_class(API))).result(timeout=5)
    assert caught.value.category == "server"


def test_a_result_carrying_the_failed_field_with_another_value_is_the_result(
    make_client: SyncFactory, mocked: HTTPXMock
) -> None:
    # Before failed.equals was honoured, any reply holding the failed field was a failure.
    mocked.add_response(url=POLL_URL, json=_state("done", value=3))
    assert _submit(make_client(sync_client_class(API))).result(timeout=5) == Result(value=3)


def test_a_failed_field_without_values_fails_when_present(
    make_client: SyncFactory, mocked: HTTPXMock
) -> None:
    api = _api(failed_field="problem.text", failed_values=(), message_field="problem.text")
    mocked.add_response(url=POLL_URL, json={"problem": {"text": "out of quota"}})
    with pytest.raises(RequestFailedError, match="out of quota") as caught:
        _submit(make_client(sync_client_class(api))).result(timeout=5)
    assert caught.value.category == "unknown"


# -- intervals and hints ---------------------------------------------------------------------------


def test_the_default_interval_backs_off_to_its_cap(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = FuturesSpec(poll_endpoint="retrieve_future", pending_field="status.state")
    api = dataclasses.replace(API_SPEC, futures=defaults)
    for _ in range(7):
        mocked.add_response(url=POLL_URL, json=_state("try_again"))
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(api)))
    waits = _recorded(handle, monkeypatch)
    assert handle.result() == Result(value=1)
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_interval_and_cap_come_from_the_contract(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _api(poll_interval=0.25, max_poll_interval=0.75)
    for _ in range(4):
        mocked.add_response(url=POLL_URL, json=_state("running"))
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(api)))
    waits = _recorded(handle, monkeypatch)
    assert handle.result() == Result(value=1)
    assert waits == [0.25, 0.5, 0.75, 0.75]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "3"}, 3.0), ({"retry-after-ms": "250"}, 0.25), ({}, 0.5)],
)
def test_retry_after_on_a_not_yet_reply(
    make_client: SyncFactory,
    mocked: HTTPXMock,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    expected: float,
) -> None:
    mocked.add_response(url=POLL_URL, status_code=202, json=_state("running"), headers=headers)
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(API)))
    waits = _recorded(handle, monkeypatch)
    handle.result()
    assert waits == [expected]


def test_retry_after_as_an_http_date(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    mocked.add_response(url=POLL_URL, json=_state("queued"), headers={"Retry-After": when})
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(API)))
    waits = _recorded(handle, monkeypatch)
    handle.result()
    assert len(waits) == 1
    assert 20 < waits[0] <= 30  # whole seconds; the clock moves on meanwhile


def test_the_body_hint_wins_over_the_header_and_is_capped(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _api(poll_after_cap=2.0)
    hinted = _state("running", hints={"retry_after_ms": 1500})
    mocked.add_response(url=POLL_URL, json=hinted, headers={"Retry-After": "9"})
    mocked.add_response(url=POLL_URL, json=_state("running", hints={"retry_after_ms": 600000}))
    mocked.add_response(url=POLL_URL, json=_state("running"), headers={"Retry-After": "3600"})
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(api)))
    waits = _recorded(handle, monkeypatch)
    handle.result()
    assert waits == [1.5, 2.0, 2.0]


def test_the_header_hint_can_be_turned_off(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = _api(retry_after_header=False)
    mocked.add_response(url=POLL_URL, json=_state("running"), headers={"Retry-After": "30"})
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(api)))
    waits = _recorded(handle, monkeypatch)
    handle.result()
    assert waits == [0.5]


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_on_a_status_that_is_polled_again(
    make_client: SyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    mocked.add_response(url=POLL_URL, status_code=status, headers={"Retry-After": "7"})
    mocked.add_response(url=POLL_URL, json={"value": 1})
    handle = _submit(make_client(sync_client_class(API)))
    waits = _recorded(handle, monkeypatch)
    handle.result()
    assert waits == [7.0]


async def test_async_handles_follow_the_same_contract(
    make_async_client: AsyncFactory, mocked: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mocked.add_response(url=POLL_URL, json=_state("queued", hints={"retry_after_ms": 10}))
    mocked.add_response(url=POLL_URL, json=_state("running"), headers={"Retry-After": "0"})
    mocked.add_response(url=POLL_URL, json={"status": {"state": "failed"}})
    client = make_async_client(async_client_class(API))
    handle = await client.submit(endpoint("submit_job"), dict, Result, body={"job": "x"})
    waits: list[float] = []

    async def record(seconds: float, _deadline: float | None) -> None:
        waits.append(seconds)

    monkeypatch.setattr(handle, "_sleep", record)
    with pytest.raises(RequestFailedError, match="the request failed"):
        await handle.result(timeout=5)
    assert waits == [0.01, 0.0]


# -- against a real server -------------------------------------------------------------------------


class _Job:
    """A job on a local server that is ready ``ready_after`` seconds after it was submitted."""

    def __init__(self, ready_after: float, retry_after: str | None = None) -> None:
        self.ready_after = ready_after
        self.retry_after = retry_after
        self.started = 0.0
        self.polls = 0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        job = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers: dict[str, str] = {}
                with job.lock:
                    if self.path.endswith("/jobs"):
                        job.started = time.monotonic()
                        status, body = 200, {"request_id": "r-1"}
                    elif time.monotonic() - job.started >= job.ready_after:
                        job.polls += 1
                        status, body = 200, {"value": 42}
                    else:
                        job.polls += 1
                        status, body = 202, _state("running")
                        if job.retry_after is not None:
                            headers["Retry-After"] = job.retry_after
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def test_a_one_second_job_takes_a_few_polls_with_the_default_interval(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    # The measurement: with the old interval of 0, a 1 s job took 85 polls.
    job = _Job(ready_after=1.0)
    server = http_server(job.handler(), lifetime=30)
    default = FuturesSpec(poll_endpoint="retrieve_future")
    api = _api(poll_interval=default.poll_interval, max_poll_interval=default.max_poll_interval)
    client = make_client(sync_client_class(api), base_url=server.base_url)
    assert _submit(client).result(timeout=20) == Result(value=42)
    assert 2 <= job.polls <= 4  # 0 s, 0.5 s, 1.5 s: slower machines poll fewer times, not more


def test_a_long_retry_after_is_bounded_by_the_waits_timeout(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    job = _Job(ready_after=3600.0, retry_after="3600")
    server = http_server(job.handler(), lifetime=30)
    client = make_client(sync_client_class(_api(poll_after_cap=3600.0)), base_url=server.base_url)
    handle = _submit(client)
    started = time.monotonic()
    with pytest.raises(FutureTimeoutError):
        handle.result(timeout=0.5)
    assert time.monotonic() - started < 10  # the timeout, not the server's hour
    assert job.polls == 1
