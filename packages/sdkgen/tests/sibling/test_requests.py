"""Plain calls of the render-farm SDK: what goes on the wire and what comes back."""

from __future__ import annotations

import gzip
import json
import warnings
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import pydantic
import pytest
import zstandard
from pytest_httpx import HTTPXMock
from sdkgen.runtime import APIResponseValidationError, NotFoundError

BASE_URL = "https://farm.test/v2"
TOKEN = "farm-secret-token"
JOB = {
    "scene": "scenes/forest.blend",
    "renderer": "eevee",
    "frame_start": 1,
    "frame_end": 10,
    "output": {"kind": "mp4", "fps": 24},
}
ASSET = {"project": "p", "path": "a", "size_bytes": 3}


def _summary(n: int) -> dict[str, Any]:
    return {
        "job_id": f"job-{n}",
        "state": "done",
        "scene": f"scenes/s{n}.blend",
        "created_at": f"2025-06-0{n}T00:00:00Z",
    }


# -- compression ---------------------------------------------------------------------------------


def test_raw_upload_is_gzipped_on_the_wire(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    payload = b"\x89PNG fake texture bytes " * 50
    httpx_mock.add_response(
        method="PUT",
        json={**ASSET, "size_bytes": len(payload), "uploaded_at": "2025-06-01T00:00:00Z"},
    )
    ref = farm.assets.upload_asset("forest", "textures/bark.png", content=payload)
    assert isinstance(ref, sdk.models.AssetRef)
    assert ref.size_bytes == len(payload)
    (request,) = httpx_mock.get_requests()
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.content != payload
    assert gzip.decompress(request.content) == payload
    assert len(request.content) < len(payload)


def test_json_body_is_zstd_compressed_on_the_wire(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="POST", url=f"{BASE_URL}/projects/forest/scenes", json=ASSET)
    farm.assets.import_scene_graph(
        "forest",
        name="forest",
        nodes=[{"name": "root", "children": [{"name": "tree", "mesh": "oak.obj"}]}],
    )
    (request,) = httpx_mock.get_requests()
    assert request.headers["Content-Encoding"] == "zstd"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(request.content))
    assert body == {
        "name": "forest",
        "nodes": [
            {"name": "root", "children": [{"name": "tree", "mesh": "oak.obj", "children": []}]}
        ],
    }
    assert request.headers["X-Farm-Idempotency"]  # a POST gets a key


# -- path parameters -----------------------------------------------------------------------------


def test_path_params_are_quoted_keeping_slashes_only_where_allowed(
    farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="PUT", json=ASSET)
    farm.assets.upload_asset("team a/b", "textures/wood grain#1.png", content=b"x")
    (request,) = httpx_mock.get_requests()
    assert request.url.raw_path == (
        b"/v2/projects/team%20a%2Fb/assets/textures/wood%20grain%231.png"
    )


def test_empty_path_param_is_refused_before_sending(farm: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ValueError, match="project"):
        farm.assets.upload_asset("", "textures/a.png", content=b"x")
    assert httpx_mock.get_requests() == []


# -- pagination ----------------------------------------------------------------------------------


def _expect_pages(httpx_mock: HTTPXMock, limit: int, total: int, extra: str = "") -> None:
    for offset in range(0, total, limit):
        page = [_summary(n) for n in range(offset + 1, min(offset + limit, total) + 1)]
        httpx_mock.add_response(
            method="GET",
            url=f"{BASE_URL}/jobs?limit={limit}&offset={offset}{extra}",
            json={"jobs": page, "cursor": {"total": total, "next_offset": offset + limit}},
        )


def _offsets(httpx_mock: HTTPXMock) -> list[str | None]:
    return [r.url.params.get("offset") for r in httpx_mock.get_requests()]


def test_iterator_walks_every_page(sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_pages(httpx_mock, limit=2, total=5)
    jobs = list(farm.jobs.iter_list_jobs(limit=2))
    assert [j.job_id for j in jobs] == [f"job-{n}" for n in range(1, 6)]
    assert all(isinstance(j, sdk.models.JobSummary) for j in jobs)
    assert _offsets(httpx_mock) == ["0", "2", "4"]
    assert {r.url.params["limit"] for r in httpx_mock.get_requests()} == {"2"}


def test_iterator_passes_filters_and_starts_at_the_given_offset(
    farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/jobs?limit=3&offset=3&state=failed",
        json={"jobs": [_summary(4)], "cursor": {"total": 4}},
    )
    assert [j.job_id for j in farm.jobs.iter_list_jobs(limit=3, offset=3, state="failed")] == [
        "job-4"
    ]


def test_list_uses_the_query_defaults(sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/jobs?limit=25&offset=0",
        json={"jobs": [_summary(1)], "cursor": {"total": 1}},
    )
    page = farm.jobs.list_jobs()
    assert isinstance(page, sdk.models.JobPage)
    assert page.cursor.total == 1
    assert page.cursor.next_offset is None
    assert page.jobs[0].created_at == datetime(2025, 6, 1, tzinfo=UTC)
    (request,) = httpx_mock.get_requests()
    assert "state" not in request.url.params  # an unset optional filter is not sent


async def test_async_iterator_walks_every_page(afarm: Any, httpx_mock: HTTPXMock) -> None:
    _expect_pages(httpx_mock, limit=3, total=7)
    jobs = [job async for job in afarm.jobs.iter_list_jobs(limit=3)]
    assert [j.job_id for j in jobs] == [f"job-{n}" for n in range(1, 8)]
    assert _offsets(httpx_mock) == ["0", "3", "6"]


# -- auth and environment ------------------------------------------------------------------------


def test_token_and_base_url_come_from_the_farms_env_vars(
    sdk: ModuleType, monkeypatch: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    monkeypatch.setenv("FARM_TOKEN", "token-from-env")
    monkeypatch.setenv("FARM_BASE_URL", "http://farm.local:9000/api/")
    monkeypatch.setenv("OTHER_SDK_API_KEY", "not-this-one")  # another SDK's variable
    httpx_mock.add_response(method="DELETE", url="http://farm.local:9000/api/jobs/j1")
    with sdk.RenderFarm() as farm:
        farm.jobs.cancel_job("j1")
    (request,) = httpx_mock.get_requests()
    assert request.headers["X-Farm-Token"] == "token-from-env"
    assert "X-API-Key" not in request.headers
    assert "Authorization" not in request.headers
    assert request.headers["X-Farm-Client"] == "sibling-sdk"
    assert request.headers["User-Agent"].startswith("renderfarm ")


def test_explicit_arguments_beat_the_environment(
    sdk: ModuleType, monkeypatch: pytest.MonkeyPatch, httpx_mock: HTTPXMock
) -> None:
    monkeypatch.setenv("FARM_TOKEN", "token-from-env")
    monkeypatch.setenv("FARM_BASE_URL", "http://farm.local:9000/api")
    httpx_mock.add_response(
        url=f"{BASE_URL}/jobs?limit=25&offset=0", json={"jobs": [], "cursor": {"total": 0}}
    )
    with sdk.RenderFarm(base_url=BASE_URL, api_key="explicit") as farm:
        farm.jobs.list_jobs()
    assert httpx_mock.get_requests()[0].headers["X-Farm-Token"] == "explicit"


def test_without_a_token_no_auth_header_is_sent(sdk: ModuleType, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="DELETE")
    with sdk.RenderFarm(base_url=BASE_URL) as farm:
        farm.jobs.cancel_job("j1")
    assert "X-Farm-Token" not in httpx_mock.get_requests()[0].headers


def test_the_farms_retry_policy_and_headers_are_used(farm: Any, httpx_mock: HTTPXMock) -> None:
    url = f"{BASE_URL}/projects/forest/scenes"
    httpx_mock.add_response(method="POST", url=url, status_code=503)
    httpx_mock.add_response(method="POST", url=url, status_code=429, headers={"retry-after": "0"})
    httpx_mock.add_response(method="POST", url=url, json=ASSET)
    farm.assets.import_scene_graph("forest", name="n", nodes=[])
    requests = httpx_mock.get_requests()
    assert [r.headers["X-Farm-Attempt"] for r in requests] == ["0", "1", "2"]
    assert len({r.headers["X-Farm-Idempotency"] for r in requests}) == 1


def test_errors_carry_the_farms_request_id(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=404, json={"detail": "no such job"}, headers={"x-farm-trace": "tr-99"}
    )
    with pytest.raises(NotFoundError, match="no such job") as caught:
        farm.jobs.cancel_job("nope")
    assert caught.value.request_id == "tr-99"
    assert caught.value.endpoint == "cancel_job"
    assert caught.value.path == "/jobs/nope"


# -- deprecation ---------------------------------------------------------------------------------


def test_deprecated_endpoint_warns_at_the_callers_line(
    sdk: ModuleType, farm: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=f"{BASE_URL}/jobs/job-1", json=_summary(1))
    with pytest.warns(DeprecationWarning, match="get_job_status") as record:
        job = farm.jobs.get_job("job-1")
    assert isinstance(job, sdk.models.JobSummary)
    assert record[0].filename == __file__
    assert "Deprecated" in type(farm.jobs).get_job.__doc__


def test_other_endpoints_do_not_warn(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="DELETE", status_code=204)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        farm.jobs.cancel_job("job-1")


async def test_async_deprecated_endpoint_warns(afarm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE_URL}/jobs/job-1", json=_summary(1))
    with pytest.warns(DeprecationWarning, match="get_job is deprecated"):
        await afarm.jobs.get_job("job-1")


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"frame_start": 0}, "frame_start"),
        ({"renderer": "povray"}, "renderer"),
        ({"output": {"kind": "gif"}}, "output"),
        ({"output": {"kind": "mp4", "fps": 500}}, "fps"),
        ({"scene": ""}, "scene"),
        ({"not_after": "next tuesday"}, "not_after"),
        ({"priority": 11}, "priority"),
    ],
)
def test_a_bad_argument_is_refused_before_any_request(
    farm: Any, httpx_mock: HTTPXMock, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        farm.jobs.submit_render(**{**JOB, **change})
    assert httpx_mock.get_requests() == []


def test_request_only_schemas_reject_unknown_fields(farm: Any, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(pydantic.ValidationError, match="colour"):
        farm.assets.import_scene_graph("p", name="n", nodes=[{"name": "a", "colour": "red"}])
    assert httpx_mock.get_requests() == []


def test_a_datetime_argument_is_sent_as_iso_8601(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST", json={"job_id": "j", "accepted_at": "2025-06-01T00:00:00Z"}
    )
    farm.jobs.submit_render(**JOB, not_after=datetime(2025, 7, 1, 8, 30, tzinfo=UTC))
    body = json.loads(httpx_mock.get_requests()[0].content)
    assert body["not_after"] in ("2025-07-01T08:30:00Z", "2025-07-01T08:30:00+00:00")
    assert body["output"] == {"kind": "mp4", "fps": 24}
    assert body["priority"] == 5


def test_a_reply_violating_its_schema_names_the_field(farm: Any, httpx_mock: HTTPXMock) -> None:
    bad = {**_summary(2), "state": 42}  # not a string (a new state name would be kept)
    httpx_mock.add_response(json={"jobs": [_summary(1), bad], "cursor": {"total": 2}})
    with pytest.raises(APIResponseValidationError, match=r"jobs\.1\.state") as caught:
        farm.jobs.list_jobs()
    assert caught.value.endpoint == "list_jobs"
    assert caught.value.status_code == 200


def test_a_reply_missing_a_required_field_names_it(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"jobs": [], "cursor": {}})
    with pytest.raises(APIResponseValidationError, match=r"cursor\.total"):
        farm.jobs.list_jobs()


def test_unknown_reply_fields_are_ignored(farm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={**ASSET, "checksum": "abc", "new_in_v3": True})
    ref = farm.assets.upload_asset("p", "a", content=b"abc")
    assert ref.path == "a"


@pytest.mark.httpx_mock(assert_all_requests_were_expected=False)
@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 1000}, {"state": "exploded"}])
def test_a_bad_query_argument_is_refused_before_any_request(
    farm: Any, httpx_mock: HTTPXMock, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(pydantic.ValidationError):
        farm.jobs.list_jobs(**kwargs)
    assert httpx_mock.get_requests() == []


# -- no body -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [{"status_code": 204}, {"status_code": 200, "json": {"ok": 1}}])
def test_delete_returns_none(farm: Any, httpx_mock: HTTPXMock, reply: dict[str, Any]) -> None:
    httpx_mock.add_response(method="DELETE", url=f"{BASE_URL}/jobs/job-3", **reply)
    assert farm.jobs.cancel_job("job-3") is None
    (request,) = httpx_mock.get_requests()
    assert request.method == "DELETE"
    assert request.content == b""
    assert "Content-Type" not in request.headers


async def test_async_delete_returns_none(afarm: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="DELETE", url=f"{BASE_URL}/jobs/job-3", status_code=204)
    assert await afarm.jobs.cancel_job("job-3") is None
    assert isinstance(httpx_mock.get_requests()[0], httpx.Request)
