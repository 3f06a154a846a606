"""The rest of the polling contract, all manifest data: bad-request budget, pause statuses,
metadata-only replies, extra poll fields, iteration header, and where the id travels."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    AsyncAPIClient,
    BadRequestError,
    EndpointSpec,
    PaymentRequiredError,
    SyncAPIClient,
)
from tests.runtime._support import (
    API_SPEC,
    BASE_URL,
    ENDPOINTS,
    SyncFactory,
    endpoint,
    sync_client_class,
    url,
)

assert API_SPEC.futures is not None
POLL_URL = url("/futures/retrieve")
SUBMIT_URL = url("/jobs")
CONTRACT = dataclasses.replace(
    API_SPEC.futures,
    bad_request_statuses=(400,),
    bad_request_budget=2,
    pause_statuses=(402,),
    pause_interval=0.001,
    pause_cap=0.2,
    poll_fields={"allow_metadata_only": True},
    metadata_field="status",
    metadata_value="complete_metadata",
    metadata_then={"allow_metadata_only": False},
    iteration_header="X-Iteration",
)
API = dataclasses.replace(API_SPEC, futures=CONTRACT)


class Result(BaseModel):
    value: int


def _client(make_client: SyncFactory) -> SyncAPIClient:
    return make_client(sync_client_class(API))


def _submit(client: SyncAPIClient) -> Any:
    return client.submit(endpoint("submit_job"), dict, Result, body={"job": "x"})


def test_bare_400s_are_polled_again_within_the_budget(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    httpx_mock.add_response(url=POLL_URL, status_code=400)
    httpx_mock.add_response(url=POLL_URL, status_code=400)
    httpx_mock.add_response(url=POLL_URL, json={"value": 3})
    assert _submit(_client(make_client)).result(timeout=5) == Result(value=3)


def test_bare_400s_beyond_the_budget_raise(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    for _ in range(3):
        httpx_mock.add_response(url=POLL_URL, status_code=400, json={"detail": "proxy said no"})
    with pytest.raises(BadRequestError, match="proxy said no"):
        _submit(_client(make_client)).result(timeout=5)
    assert len(httpx_mock.get_requests(url=POLL_URL)) == 3


def test_pause_status_is_waited_out(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    for _ in range(4):
        httpx_mock.add_response(url=POLL_URL, status_code=402)
    httpx_mock.add_response(url=POLL_URL, json={"value": 5})
    assert _submit(_client(make_client)).result(timeout=5) == Result(value=5)


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
def test_pause_beyond_its_cap_raises(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    httpx_mock.add_response(url=POLL_URL, status_code=402, is_reusable=True)
    with pytest.raises(PaymentRequiredError):
        _submit(_client(make_client)).result(timeout=10)
    # pause_cap 0.2 s at 1 ms per pause: many polls, but bounded by the cap, not by the timeout
    assert len(httpx_mock.get_requests(url=POLL_URL)) > 2


def test_metadata_reply_switches_the_poll_fields(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    httpx_mock.add_response(url=POLL_URL, json={"status": "complete_metadata", "size": 10})
    httpx_mock.add_response(url=POLL_URL, json={"value": 9})
    assert _submit(_client(make_client)).result(timeout=5) == Result(value=9)
    first, second = httpx_mock.get_requests(url=POLL_URL)
    assert json.loads(first.content) == {"request_id": "r", "allow_metadata_only": True}
    assert json.loads(second.content) == {"request_id": "r", "allow_metadata_only": False}
    assert [first.headers["X-Iteration"], second.headers["X-Iteration"]] == ["0", "1"]


def _variant_endpoints(poll: EndpointSpec) -> dict[str, EndpointSpec]:
    return {**ENDPOINTS, "retrieve_future": poll}


@pytest.mark.parametrize(
    ("poll", "expected_url"),
    [
        (
            EndpointSpec(
                id="retrieve_future",
                method="GET",
                path="/futures/{request_id}",
                path_params=("request_id",),
            ),
            url("/futures/r-1"),
        ),
        (
            EndpointSpec(id="retrieve_future", method="GET", path="/futures"),
            url("/futures?request_id=r-1&allow_metadata_only=true"),
        ),
    ],
    ids=["id-in-path", "id-in-query"],
)
def test_the_future_id_travels_where_the_poll_endpoint_takes_it(
    make_client: SyncFactory, httpx_mock: HTTPXMock, poll: EndpointSpec, expected_url: str
) -> None:
    cls = type("PathPollClient", (sync_client_class(API),), {"endpoints": _variant_endpoints(poll)})
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r-1"})
    httpx_mock.add_response(url=expected_url, json={"value": 1})
    client = make_client(cls)
    assert _submit(client).result(timeout=5) == Result(value=1)
    (request,) = httpx_mock.get_requests(url=expected_url)
    assert request.method == "GET"
    assert request.content == b""


async def test_async_metadata_and_budget(httpx_mock: HTTPXMock) -> None:
    cls = type("ContractAsync", (AsyncAPIClient,), {"api": API, "endpoints": ENDPOINTS})
    httpx_mock.add_response(url=SUBMIT_URL, json={"request_id": "r"})
    httpx_mock.add_response(url=POLL_URL, status_code=400)
    httpx_mock.add_response(url=POLL_URL, json={"status": "complete_metadata"})
    httpx_mock.add_response(url=POLL_URL, status_code=402)
    httpx_mock.add_response(url=POLL_URL, json={"value": 2})
    async with cls(base_url=BASE_URL, api_key="k") as client:
        handle = await client.submit(endpoint("submit_job"), dict, Result, body={"job": "x"})
        assert await handle.result(timeout=5) == Result(value=2)
    bodies = [json.loads(r.content) for r in httpx_mock.get_requests(url=POLL_URL)]
    assert [b["allow_metadata_only"] for b in bodies] == [True, True, False, False]
