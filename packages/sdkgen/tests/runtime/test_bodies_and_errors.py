"""Form bodies (``body="form"``) and the per-call escape hatches ``extra_query`` /
``extra_body`` merged over what the method built."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import EndpointSpec, RequestOptions
from tests.runtime._support import AsyncFactory, SyncFactory, endpoint, url

FORM = EndpointSpec(
    id="login",
    method="POST",
    path="/login",
    body="form",
    content_type="application/x-www-form-urlencoded",
)


class NewItem(BaseModel):
    name: str
    size: int = 1
    note: str | None = None


class Login(BaseModel):
    user: str
    scopes: list[str] = []
    remember: bool = False
    note: str | None = None


def _sent(httpx_mock: HTTPXMock) -> tuple[dict[str, str], bytes]:
    request = httpx_mock.get_request()
    assert request is not None
    return dict(request.url.params), request.content


def test_extra_query_is_merged_over_the_built_query_and_wins(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("search"),
        dict,
        query={"q": "cats", "limit": 10},
        options=RequestOptions(extra_query={"limit": 5, "beta": True, "dropped": None}),
    )
    params, _ = _sent(httpx_mock)
    assert params == {"q": "cats", "limit": "5", "beta": "true"}


def test_extra_query_alone_on_an_endpoint_without_query(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(url=url("/items/a?trace=1"), json={})
    make_client().request(
        endpoint("get_item"),
        dict,
        path_params={"item_id": "a"},
        options=RequestOptions(extra_query={"trace": 1}),
    )


def test_extra_body_keys_are_merged_into_the_json_object_and_win(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("create_item"),
        dict,
        body=NewItem(name="a", size=2),
        options=RequestOptions(extra_body={"size": 3, "beta": {"x": [1]}, "note": None}),
    )
    _, content = _sent(httpx_mock)
    # The model's own unset None stays out; the caller's explicit None is sent as null.
    assert json.loads(content) == {"name": "a", "size": 3, "beta": {"x": [1]}, "note": None}


def test_without_extras_the_body_is_byte_identical(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    httpx_mock.add_response(json={})
    client = make_client()
    client.request(endpoint("create_item"), dict, body=NewItem(name="a"))
    client.request(endpoint("create_item"), dict, body=NewItem(name="a"), options=RequestOptions())
    first, second = httpx_mock.get_requests()
    assert first.content == second.content == b'{"name":"a","size":1}'


def test_extra_body_alone_is_sent_as_json(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        endpoint("create_item"), dict, options=RequestOptions(extra_body={"only": 1})
    )
    request = httpx_mock.get_request()
    assert request is not None
    assert request.content == b'{"only":1}'
    assert request.headers["Content-Type"] == "application/json"


def test_extra_body_on_a_raw_body_is_refused_before_sending(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    with pytest.raises(ValueError, match=r"upload_zstd: extra_body .* raw bytes"):
        make_client().request(
            endpoint("upload_zstd"),
            dict,
            content=b"\x00\x01",
            options=RequestOptions(extra_body={"x": 1}),
        )
    assert httpx_mock.get_requests() == []


async def test_async_client_merges_both(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    async with make_async_client() as client:
        await client.request(
            endpoint("create_item"),
            dict,
            query={"v": 1},
            body=NewItem(name="b"),
            options=RequestOptions(extra_query={"w": "2"}, extra_body={"beta": True}),
        )
    params, content = _sent(httpx_mock)
    assert params == {"v": "1", "w": "2"}
    assert json.loads(content) == {"name": "b", "size": 1, "beta": True}


def test_a_form_body_is_urlencoded_with_lists_repeated_and_nones_left_out(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        FORM, dict, body=Login(user="ana maria&co", scopes=["read", "wr=ite"], remember=True)
    )
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == (b"user=ana+maria%26co&scopes=read&scopes=wr%3Dite&remember=true")


def test_extra_body_fields_are_merged_into_a_form(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(
        FORM,
        dict,
        body=Login(user="a"),
        options=RequestOptions(extra_body={"remember": True, "otp": 123456}),
    )
    request = httpx_mock.get_request()
    assert request is not None
    # An empty list sends no pair at all; the caller's keys win and come after the fields.
    assert request.content == b"user=a&remember=true&otp=123456"


def test_a_nested_form_value_is_refused_before_sending(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    with pytest.raises(ValueError, match=r"login: form field `meta` is nested"):
        make_client().request(
            FORM, dict, body=Login(user="a"), options=RequestOptions(extra_body={"meta": {}})
        )
    assert httpx_mock.get_requests() == []
