"""The render-farm future contract: submit a job, poll `get_job_status` by `job_id` until not queued."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIResponseValidationError,
    FutureExpiredError,
    FutureHandle,
    RequestFailedError,
)

BASE_URL = "https://farm.test/v2"
SUBMIT_URL = f"{BASE_URL}/jobs"
POLL_URL = f"{BASE_URL}/jobs/status"

JOB = {
    "scene": "scenes/forest.blend",
    "renderer": "cycles",
    "frame_start": 1,
    "frame_end": 2,
    "output": {"kind": "png", "bit_depth": 16},
}
TICKET = {"job_id": "job-7", "accepted_at": "2025-06-01T10:00:00Z", "position": 3}
QUEUED = {"state": "queued", "farm_queue": "waiting_for_gpu"}
DONE = {
    "job_id": "job-7",
    "state": "done",
    "frames": [
        {"frame": 1, "url": "https://cdn.farm.test/job-7/0001.png", "render_seconds": 12.5},
        {"frame": 2, "url": "https://cdn.farm.test/job-7/0002.png"},
    ],
    "output": {"kind": "png", "bit_depth": 16},
    "finished_at": "2025-06-01T10:05:00+00:00",
}


def _bodies(httpx_mock: HTTPXMock) -> list[tuple[str, str, Any]]:
    return [
        (r.method, str(r.url), json.loads(r.content) if r.content else None)
        for r in httpx_mock.get_requests()
    ]


def _expect_submission(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=SUBMIT_URL,
        match_json={**JOB, "priority": 5},
        json=TICKET,
    )


def _expect_polls(httpx_mock: HTTPXMock, *replies: dict[str, Any] | int) -> None:
    for reply in replies:
        if isinstance(reply, int):
            httpx_mock.add_response(
                method="POST", url=POLL_URL, match_json={"job_id": "job-7"}, status_code=reply
            )
        else:
            httpx_mock.add_response(
                method="POST", url=POLL_URL, match_json={"job_id": "job-7"}, json=reply
            )


def _check_result(sdk: ModuleType, result: Any) -> None:
    models = sdk.models
    assert isinstance(result, models.RenderResult)
    assert result.job_id == "job-7"
    assert result.state == "done"
    assert [f.frame for f in result.frames] == [1, 2]
    assert result.frames[0].render_seconds == 12.5
    assert result.frames[1].render_seconds is None
    assert isinstance(result.output, models.PngOutput)
    assert result.output.bit_depth == 16
    assert result.finished_at.isoformat() == "2025-06-01T10:05:00+00:00"


def test_submit_polls_until_the_job_is_not_queued(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, QUEUED, DONE)

    handle = farm.jobs.submit_render(**JOB)

    assert isinstance(handle, FutureHandle)
    assert isinstance(handle.submission, sdk.models.JobTicket)
    assert handle.submission.position == 3
    assert handle.request_id == "job-7"
    assert not handle.done()
    assert len(httpx_mock.get_requests()) == 1, "submitting must not poll"

    result = handle.result(timeout=10)

    _check_result(sdk, result)
    assert handle.done()
    assert handle.polls == 3
    assert _bodies(httpx_mock) == [
        ("POST", SUBMIT_URL, {**JOB, "priority": 5}),
        ("POST", POLL_URL, {"job_id": "job-7"}),
        ("POST", POLL_URL, {"job_id": "job-7"}),
        ("POST", POLL_URL, {"job_id": "job-7"}),
    ]
    # Asking again returns the same result without another poll.
    assert handle.result(timeout=1) is result
    assert len(httpx_mock.get_requests()) == 4


def test_submission_carries_one_idempotency_key_and_the_farm_token(
    farm: Any, httpx_mock: HTTPXMock
) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, DONE)
    farm.jobs.submit_render(**JOB, idempotency_key="render-once").result(timeout=10)
    submit, poll = httpx_mock.get_requests()
    assert submit.headers["X-Farm-Idempotency"] == "render-once"
    assert poll.headers["X-Farm-Idempotency"] != "render-once"
    for request in (submit, poll):
        assert request.headers["X-Farm-Token"] == "farm-secret-token"
        assert request.headers["X-Farm-Attempt"] == "0"
        assert request.headers["Content-Type"] == "application/json"


def test_a_failed_reply_raises_request_failed(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(
        httpx_mock,
        QUEUED,
        {"failure": "scene references a missing texture", "failure_kind": "scene_error"},
    )
    handle = farm.jobs.submit_render(**JOB)
    with pytest.raises(RequestFailedError, match="missing texture") as caught:
        handle.result(timeout=10)
    assert caught.value.category == "scene_error"
    assert caught.value.request_id == "job-7"
    assert caught.value.endpoint == "submit_render"
    assert not handle.done()
    assert handle.polls == 2


def test_server_errors_while_polling_are_polled_through(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, 503, QUEUED, 502, DONE)
    handle = farm.jobs.submit_render(**JOB)
    assert handle.result(timeout=10).job_id == "job-7"
    assert handle.polls == 4


def test_the_farms_own_expired_status_ends_the_wait(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, 404)
    handle = farm.jobs.submit_render(**JOB)
    with pytest.raises(FutureExpiredError, match="job-7"):
        handle.result(timeout=10)


def test_a_result_violating_its_schema_names_the_field(farm: Any, httpx_mock: HTTPXMock) -> None:
    broken = {**DONE, "frames": [{"frame": 1, "url": 42}]}
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, broken)
    with pytest.raises(APIResponseValidationError, match=r"frames\.0\.url"):
        farm.jobs.submit_render(**JOB).result(timeout=10)


def test_the_queue_state_is_read_from_the_farms_field(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, {"state": "queued", "farm_queue": "warming_nodes"}, DONE)
    seen: list[str] = []
    handle = farm.jobs.submit_render(**JOB, on_queue_state=lambda state, reason: seen.append(state))
    handle.result(timeout=10)
    assert seen[:2] == ["waiting_for_gpu", "warming_nodes"]


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
def test_future_methods_accept_a_queue_state_observer(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, DONE)
    seen: list[tuple[str, str | None]] = []
    handle = farm.jobs.submit_render(
        **JOB, on_queue_state=lambda state, reason: seen.append((state, reason))
    )
    handle.result(timeout=10)
    assert seen[0] == ("waiting_for_gpu", None)


def test_only_queue_states_the_server_sent_are_reported(farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, DONE)
    seen: list[str] = []
    handle = farm.jobs.submit_render(**JOB, on_queue_state=lambda state, reason: seen.append(state))
    handle.result(timeout=10)
    assert seen == ["waiting_for_gpu"]
    assert handle.queue_state == "waiting_for_gpu"


async def test_async_submit_polls_until_the_job_is_not_queued(
    sdk: ModuleType, afarm: Any, httpx_mock: HTTPXMock
) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, QUEUED, 503, DONE)
    handle = await afarm.jobs.submit_render(**JOB)
    assert handle.request_id == "job-7"
    result = await handle.result(timeout=10)
    _check_result(sdk, result)
    assert handle.polls == 3
    assert [body for _, _, body in _bodies(httpx_mock)[1:]] == [{"job_id": "job-7"}] * 3


async def test_async_failed_reply_raises_request_failed(afarm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_submission(httpx_mock)
    _expect_polls(httpx_mock, {"failure": "node lost", "failure_kind": "infrastructure"})
    handle = await afarm.jobs.submit_render(**JOB)
    with pytest.raises(RequestFailedError, match="node lost") as caught:
        await handle.result(timeout=10)
    assert caught.value.category == "infrastructure"


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
def test_a_poll_endpoint_may_take_the_id_in_its_path(
    variant: Callable[..., ModuleType], httpx_mock: HTTPXMock
) -> None:
    polled_by_path = variant(
        "renderfarm_get_poll",
        replace=(
            (
                "        path: /jobs/status\n",
                "        path: /jobs/{job_id}/status\n"
                "        path_params:\n"
                "          job_id: {schema: {type: string}}\n",
            ),
            (
                "        method: POST\n        path: /jobs/{job_id}/status",
                "        method: GET\n        path: /jobs/{job_id}/status",
            ),
            ("        request: JobStatusRequest\n", ""),
        ),
    )
    _expect_submission(httpx_mock)
    httpx_mock.add_response(method="GET", url=f"{BASE_URL}/jobs/job-7/status", json=DONE)
    with polled_by_path.RenderFarm(base_url=BASE_URL, api_key="k") as farm:
        assert farm.jobs.submit_render(**JOB).result(timeout=10).job_id == "job-7"
