"""`follow_job_log`: a server-sent-event stream of typed `LogLine` events."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.runtime import APIError, APIResponseValidationError, AsyncStream, Stream

BASE_URL = "https://farm.test/v2"
SSE = {"content-type": "text/event-stream"}

LINES = [
    {"at": "2025-06-01T10:00:01Z", "level": "info", "message": "loading scene"},
    {"at": "2025-06-01T10:00:02Z", "level": "warning", "frame": 1, "message": "missing UV map"},
    {"at": "2025-06-01T10:00:09Z", "level": "info", "frame": 1, "message": "frame done"},
]


def _frames(*events: dict[str, Any] | bytes) -> IteratorStream:
    chunks = []
    for event in events:
        if isinstance(event, bytes):
            chunks.append(event)
        else:
            chunks.append(f"event: line\ndata: {json.dumps(event)}\n\n".encode())
    return IteratorStream(chunks)


def _check_lines(sdk: ModuleType, events: list[Any]) -> None:
    assert all(isinstance(e, sdk.models.LogLine) for e in events)
    assert [e.message for e in events] == [line["message"] for line in LINES]
    assert [e.level for e in events] == ["info", "warning", "info"]
    assert [e.frame for e in events] == [None, 1, 1]
    assert events[0].at.isoformat() == "2025-06-01T10:00:01+00:00"


def test_stream_yields_typed_log_lines(sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{BASE_URL}/jobs/job-7/log?min_level=info",
        headers=SSE,
        stream=_frames(LINES[0], b": keep-alive\n\n", LINES[1], LINES[2]),
    )
    with farm.jobs.follow_job_log("job-7") as stream:
        assert isinstance(stream, Stream)
        events = list(stream)
    _check_lines(sdk, events)
    (request,) = httpx_mock.get_requests()
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["X-Farm-Token"] == "farm-secret-token"
    assert "X-Farm-Idempotency" not in request.headers  # a GET


def test_stream_query_default_can_be_overridden(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/jobs/job%2F7/log?min_level=error", headers=SSE, stream=_frames()
    )
    assert list(farm.jobs.follow_job_log("job/7", min_level="error")) == []


def test_an_error_event_raises(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        headers=SSE,
        stream=_frames(LINES[0], b'event: error\ndata: {"message": "node lost"}\n\n', LINES[1]),
    )
    seen = []
    with pytest.raises(APIError, match="node lost"):  # noqa: PT012
        for event in farm.jobs.follow_job_log("job-7"):
            seen.append(event.message)
    assert seen == ["loading scene"]


def test_an_event_violating_its_schema_names_the_field(farm: Any, httpx_mock: HTTPXMock) -> None:
    # Not a string: an unknown level name would be kept (response enums are open).
    httpx_mock.add_response(
        headers=SSE, stream=_frames({**LINES[0], "level": 7}), is_reusable=False
    )
    with pytest.raises(APIResponseValidationError, match="level"):
        list(farm.jobs.follow_job_log("job-7"))


def test_a_reply_that_is_not_a_stream_is_refused(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"not": "a stream"})
    with pytest.raises(APIResponseValidationError, match="event stream"):
        farm.jobs.follow_job_log("job-7")


async def test_async_stream_yields_typed_log_lines(
    sdk: ModuleType, afarm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{BASE_URL}/jobs/job-7/log?min_level=debug",
        headers=SSE,
        stream=_frames(*LINES),
    )
    stream = await afarm.jobs.follow_job_log("job-7", min_level="debug")
    assert isinstance(stream, AsyncStream)
    async with stream:
        events = [event async for event in stream]
    _check_lines(sdk, events)
