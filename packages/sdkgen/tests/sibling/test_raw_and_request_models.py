"""The render farm's generated surface for hand-written code (issue 11, points 3 and 4): the
raw and streaming views on a future, an event stream and a compressed body, prebuilt request
models (the same bytes on the wire, extra_body and compression still applied), and GET methods
without an idempotency key."""

from __future__ import annotations

import inspect
import json
from types import ModuleType
from typing import Any

import pytest
import zstandard
from pytest_httpx import HTTPXMock, IteratorStream
from sdkgen.runtime import APIResponse, AsyncAPIResponse, FutureHandle, Stream

BASE_URL = "https://farm.test/v2"
JOB = {
    "scene": "scenes/forest.blend",
    "renderer": "eevee",
    "frame_start": 1,
    "frame_end": 10,
    "output": {"kind": "mp4", "fps": 24},
}
TICKET = {"job_id": "job-1", "accepted_at": "2025-06-01T00:00:00Z"}
ASSET = {"project": "p", "path": "a", "size_bytes": 3}
LINE = {"at": "2025-06-01T10:00:01Z", "level": "info", "message": "loading scene"}


def _unzstd(content: bytes) -> Any:
    return json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(content))


def test_a_prebuilt_request_sends_the_same_bytes_as_the_keywords(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE_URL}/jobs", json=TICKET, is_reusable=True)
    farm.jobs.submit_render(**JOB, idempotency_key="k1")
    farm.jobs.submit_render(request=sdk.models.RenderJobRequest(**JOB), idempotency_key="k1")
    by_keywords, by_model = httpx_mock.get_requests()
    assert by_model.content == by_keywords.content
    assert dict(by_model.headers) == dict(by_keywords.headers)


def test_a_prebuilt_request_still_takes_extra_body_and_compression(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", json=ASSET)
    scene = sdk.models.SceneGraph(name="forest", nodes=[])
    farm.assets.import_scene_graph("forest", request=scene, extra_body={"beta": True})
    (request,) = httpx_mock.get_requests()
    assert request.headers["Content-Encoding"] == "zstd"
    assert _unzstd(request.content) == {"name": "forest", "nodes": [], "beta": True}


def test_mixing_request_and_keywords_is_a_type_error_naming_both(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    model = sdk.models.RenderJobRequest(**JOB)
    with pytest.raises(TypeError, match=r"either `request`.*`priority`"):
        farm.jobs.submit_render(request=model, priority=9)
    assert httpx_mock.get_requests() == []


def test_get_methods_have_no_idempotency_key(farm: Any) -> None:
    for method in (farm.jobs.list_jobs, farm.jobs.get_job, farm.jobs.follow_job_log):
        assert "idempotency_key" not in inspect.signature(method).parameters, method
    for method in (farm.jobs.submit_render, farm.jobs.cancel_job, farm.assets.upload_asset):
        assert "idempotency_key" in inspect.signature(method).parameters, method


def test_raw_response_of_a_future_parses_to_its_handle(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        method="POST", url=f"{BASE_URL}/jobs", json=TICKET, headers={"X-Request-Id": "rq-9"}
    )
    raw = farm.jobs.with_raw_response.submit_render(**JOB)
    assert isinstance(raw, APIResponse)
    assert raw.headers["x-request-id"] == "rq-9"
    assert raw.method == "POST"
    assert str(raw.url) == f"{BASE_URL}/jobs"
    assert raw.http_request.headers["X-Farm-Idempotency"]
    handle = raw.parse()
    assert isinstance(handle, FutureHandle)
    assert handle.submission == sdk.models.JobTicket.model_validate(TICKET)


def test_streaming_response_of_an_event_stream_parses_to_the_open_stream(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    frame = f"event: line\ndata: {json.dumps(LINE)}\n\n".encode()
    httpx_mock.add_response(
        method="GET",
        headers={"content-type": "text/event-stream"},
        stream=IteratorStream([frame, frame]),
    )
    with farm.jobs.with_streaming_response.follow_job_log("job-7") as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        stream = resp.parse()
        assert isinstance(stream, Stream)
        assert [e.message for e in stream] == ["loading scene", "loading scene"]
    assert resp.is_closed


async def test_async_raw_response_of_a_compressed_body(
    sdk: ModuleType, afarm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", json=ASSET)
    raw = await afarm.assets.with_raw_response.import_scene_graph(
        "forest", request=sdk.models.SceneGraph(name="forest", nodes=[])
    )
    assert isinstance(raw, AsyncAPIResponse)
    assert raw.http_request.headers["Content-Encoding"] == "zstd"
    assert await raw.parse() == sdk.models.AssetRef.model_validate(ASSET)
