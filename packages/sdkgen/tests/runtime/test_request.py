"""Request building: paths, query strings, bodies, headers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import warnings
from typing import Any

import httpx
import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, Field
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    NOT_GIVEN,
    AuthSpec,
    ClientConfig,
    NotGiven,
    RequestOptions,
    SyncAPIResource,
    build_body,
)
from sdkgen.runtime._request import CallArgs, build_request, encode_json_body, render_path
from tests.runtime._support import API_KEY, API_SPEC, BASE_URL, SyncFactory, endpoint, url


class NewItem(BaseModel):
    name: str
    size: int = 1
    note: str | None = None
    parent_id: str | None = Field(default=None, alias="parentId")


class Items(SyncAPIResource):
    """What a generated resource looks like: validate arguments, then call the client."""

    def create(
        self,
        *,
        name: str,
        size: int | NotGiven = NOT_GIVEN,
        note: str | None | NotGiven = NOT_GIVEN,
    ) -> dict[str, Any]:
        return self._client.request(
            endpoint("create_item"),
            dict,
            body=build_body(NewItem, {"name": name, "size": size, "note": note}),
        )


def _raw_path(httpx_mock: HTTPXMock) -> bytes:
    request = httpx_mock.get_request()
    assert request is not None
    return request.url.raw_path


# -- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", b"/v1/items/plain"),
        ("a b/c?d#e", b"/v1/items/a%20b%2Fc%3Fd%23e"),
        ("ünï", b"/v1/items/%C3%BCn%C3%AF"),
        (42, b"/v1/items/42"),
        ("..", b"/v1/items/%2E%2E"),
        (".", b"/v1/items/%2E"),
        ("v1.2", b"/v1/items/v1.2"),
        ("{item_id}", b"/v1/items/%7Bitem_id%7D"),
    ],
)
def test_path_params_are_quoted(
    make_client: SyncFactory, httpx_mock: HTTPXMock, value: object, expected: bytes
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(endpoint("get_item"), dict, path_params={"item_id": value})
    assert _raw_path(httpx_mock) == expected


def test_slash_params_keep_their_slashes(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("get_file"), dict, path_params={"file_path": "dir/sub dir/file.txt"}
    )
    assert _raw_path(httpx_mock) == b"/v1/files/dir/sub%20dir/file.txt/meta"


def test_slash_params_cannot_climb_out_with_dot_segments() -> None:
    path = render_path(endpoint("get_file"), {"file_path": "a/../../b"})
    request = httpx.Request("GET", BASE_URL + path)
    assert request.url.raw_path == b"/v1/files/a/%2E%2E/%2E%2E/b/meta"


@pytest.mark.parametrize("value", ["", None, NOT_GIVEN])
def test_empty_path_param_is_refused_before_any_request(
    make_client: SyncFactory, httpx_mock: HTTPXMock, value: object
) -> None:
    client = make_client()
    with pytest.raises(ValueError, match="path parameter `item_id`") as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": value})
    assert "get_item" in str(info.value)
    assert httpx_mock.get_requests() == []


def test_missing_path_param_is_refused(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(ValueError, match="`item_id`"):
        make_client().request(endpoint("get_item"), dict)
    assert httpx_mock.get_requests() == []


# -- query strings -----------------------------------------------------------------------------


def test_query_values(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("search"),
        dict,
        query={
            "flag": True,
            "off": False,
            "missing": None,
            "unset": NOT_GIVEN,
            "n": 3,
            "q": "a b&c",
            "since": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC),
            "day": dt.date(2024, 5, 2),
        },
    )
    request = httpx_mock.get_request()
    assert request is not None
    params = dict(request.url.params)
    assert params == {
        "flag": "true",
        "off": "false",
        "n": "3",
        "q": "a b&c",
        "since": "2024-05-01T12:30:00+00:00",
        "day": "2024-05-02",
    }


# -- bodies ------------------------------------------------------------------------------------


def test_build_body_drops_not_given_and_validates() -> None:
    body = build_body(NewItem, {"name": "n", "size": NOT_GIVEN, "note": None})
    assert body.size == 1
    assert body.model_fields_set == {"name", "note"}


def test_build_body_error_names_the_field_and_nothing_is_sent(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    items = Items(make_client())
    with pytest.raises(pydantic.ValidationError) as info:
        items.create(name="n", size="many")  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == ("size",)
    assert "size" in str(info.value)
    assert httpx_mock.get_requests() == []


def test_resource_call_sends_the_validated_body(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={"id": "9"})
    items = Items(make_client())
    assert items.create(name="n", note=None) == {"id": "9"}
    request = httpx_mock.get_request()
    assert request is not None
    assert json.loads(request.content) == {"name": "n", "size": 1, "note": None}
    assert "of SyncTestClient(base_url=" in repr(items)


def test_explicit_none_is_sent_and_unset_none_is_dropped() -> None:
    encoded = encode_json_body(NewItem(name="n", note=None))
    assert encoded is not None
    assert json.loads(encoded) == {"name": "n", "size": 1, "note": None}
    encoded = encode_json_body(NewItem(name="n"))
    assert encoded is not None
    assert json.loads(encoded) == {"name": "n", "size": 1}


def test_explicit_none_uses_the_alias() -> None:
    encoded = encode_json_body(NewItem.model_validate({"name": "n", "parentId": None}))
    assert encoded is not None
    assert json.loads(encoded) == {"name": "n", "size": 1, "parentId": None}


def test_model_bodies_encode_as_the_python_route_would() -> None:
    """The direct (pydantic) serializer and the dump-then-json.dumps route agree: aliases,
    nested models, unicode, floats, unset optionals left out."""

    class Inner(BaseModel):
        weight: float
        label: str | None = None

    class Outer(BaseModel):
        model_config = ConfigDict(populate_by_name=True)
        name: str
        parent_id: str | None = Field(default=None, alias="parentId")
        rows: list[Inner]
        when: dt.datetime

    body = Outer(
        name="ü-ß",
        parentId="p",
        rows=[Inner(weight=1e-12), Inner(weight=0.5, label="x")],
        when=dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC),
    )
    encoded = encode_json_body(body)
    assert encoded is not None
    expected = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert json.loads(encoded) == expected
    assert b", " not in encoded  # compact separators
    assert b": " not in encoded
    assert "ü-ß".encode() in encoded  # UTF-8, not escapes


def test_encode_json_body_mappings_and_none() -> None:
    assert encode_json_body(None) is None
    assert encode_json_body({"a": None, "ü": "ß"}) == '{"a":null,"ü":"ß"}'.encode()


def test_json_body_is_sent_with_content_type(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(endpoint("create_item"), dict, body=NewItem(name="x", size=2))
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"name": "x", "size": 2}


def test_no_body_no_content_type(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    make_client().request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    request = httpx_mock.get_request()
    assert request is not None
    assert "Content-Type" not in request.headers
    assert request.content == b""


# -- headers -----------------------------------------------------------------------------------


def test_standard_headers(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    client = make_client(default_headers={"X-Team": "core"})
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("testsdk/1.0 python/")
    assert request.headers["X-Client-Name"] == "runtime-tests"
    assert request.headers["X-Team"] == "core"


def test_extra_and_secret_and_endpoint_headers(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("with_secret"),
        dict,
        body={},
        secret_headers={"X-Upstream-Token": "upstream-secret", "X-Absent": None},
        options=RequestOptions(extra_headers={"X-Trace-Id": "t-1", "X-Client-Name": "override"}),
    )
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["X-Upstream-Token"] == "upstream-secret"
    assert "X-Absent" not in request.headers
    assert request.headers["X-Trace-Id"] == "t-1"
    assert request.headers["X-Client-Name"] == "override"
    assert request.headers["X-Endpoint"] == "secret"


def test_no_auth_header_without_a_key(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    client = make_client(api_key=None)
    assert client.config.api_key is None
    client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    request = httpx_mock.get_request()
    assert request is not None
    assert "X-API-Key" not in request.headers


def test_bearer_scheme() -> None:
    api = dataclasses.replace(
        API_SPEC, auth=AuthSpec(header="Authorization", env="X", scheme="bearer")
    )
    config = ClientConfig.resolve(api, api_key="tok", environ={})
    request = build_request(
        api,
        config,
        endpoint("get_item"),
        CallArgs(path_params={"item_id": "1"}),
        retries_taken=0,
        timeout=httpx.Timeout(1.0),
    )
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.url == url("/items/1")


def test_attempt_timeout_is_put_on_the_request(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("get_item"),
        dict,
        path_params={"item_id": "1"},
        options=RequestOptions(timeout=2.5),
    )
    request = httpx_mock.get_request()
    assert request is not None
    timeout = request.extensions["timeout"]
    assert timeout["read"] == 2.5
    assert timeout["connect"] == 2.5


def test_deprecated_endpoint_warns(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    client = make_client()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.request(endpoint("old_thing"), dict)
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert messages == ["old_thing is deprecated: use get_item instead"]


def test_paginate_walks_every_page(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    class Page(BaseModel):
        items: list[int]
        total: int

    httpx_mock.add_response(url=url("/items?offset=0&limit=2"), json={"items": [1, 2], "total": 3})
    httpx_mock.add_response(url=url("/items?offset=2&limit=2"), json={"items": [3], "total": 3})
    items = list(make_client().paginate(endpoint("list_items"), Page, query={"limit": 2}))
    assert items == [1, 2, 3]


def test_non_finite_floats_are_sent_as_json_dumps_sends_them() -> None:
    class Values(BaseModel):
        data: list[float]

    encoded = encode_json_body(Values(data=[0.5, float("-inf"), float("nan")]))
    assert encoded == b'{"data":[0.5,-Infinity,NaN]}'  # not silently turned into nulls
