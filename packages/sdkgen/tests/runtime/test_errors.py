"""Errors: the status -> class map, what a message names, body validation, pickling."""

from __future__ import annotations

import pickle
import re

import pytest
import sdkgen.runtime as runtime
import sdkgen.runtime._errors as errors_module
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FutureExpiredError,
    FutureTimeoutError,
    GoneError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    RequestFailedError,
    RequestTimeoutError,
    SDKError,
    UnprocessableEntityError,
)
from tests.runtime._support import API_KEY, SyncFactory, SyncTestClient, endpoint


class Item(BaseModel):
    id: str
    name: str
    tags: list[str] = []


STATUS_CLASSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, PaymentRequiredError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (408, RequestTimeoutError),
    (409, ConflictError),
    (410, GoneError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (503, InternalServerError),
    (418, APIStatusError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_status_maps_to_its_class(
    make_client: SyncFactory, httpx_mock: HTTPXMock, status: int, cls: type[APIStatusError]
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=status, json={"detail": f"failure {status}"})
    with pytest.raises(APIStatusError) as info:
        client.request(endpoint("ping"), dict, body={})
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    assert f"failure {status}" in str(err)
    assert isinstance(err, APIError)
    assert isinstance(err, SDKError)
    assert err.response is not None
    assert err.response.status_code == status
    assert err.body == {"detail": f"failure {status}"}


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (404, False), (409, True), (429, True), (502, True)]
)
def test_status_errors_say_whether_they_are_retryable(
    make_client: SyncFactory, httpx_mock: HTTPXMock, status: int, retryable: bool
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=status)
    with pytest.raises(APIStatusError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert info.value.retryable is retryable


def test_message_names_endpoint_method_path_status_and_request_id(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(
        status_code=404, json={"detail": "no such item"}, headers={"x-request-id": "req_abc123"}
    )
    with pytest.raises(NotFoundError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "it 1"})
    err = info.value
    text = str(err)
    assert "no such item" in text
    assert "get_item" in text
    assert "GET /items/it%201" in text
    assert "status 404" in text
    assert "request id req_abc123" in text
    assert (err.endpoint, err.method, err.path) == ("get_item", "GET", "/items/it%201")
    assert err.request_id == "req_abc123"
    assert err.message == "no such item"


def test_request_id_from_the_second_configured_header(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=409, headers={"request-id": "r-2"})
    with pytest.raises(ConflictError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert info.value.request_id == "r-2"
    assert "request id r-2" in str(info.value)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"detail": "detail text", "other": 1}, "detail text"),
        ({"message": "message text", "other": 1}, "message text"),
        ({"error": "error text", "other": 1}, "error text"),
        (
            {"detail": [{"loc": ["body", "name"], "msg": "field required"}], "other": 1},
            '[{"loc": ["body", "name"], "msg": "field required"}]',
        ),
    ],
)
def test_server_message_is_used(
    make_client: SyncFactory, httpx_mock: HTTPXMock, payload: object, expected: str
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=422, json=payload)
    with pytest.raises(UnprocessableEntityError) as info:
        client.request(endpoint("ping"), dict, body={})
    # The server's own message, not an excerpt of the whole body.
    assert info.value.message == expected
    assert str(info.value).startswith(expected + " [ping, POST /ping, status 422")


def test_non_json_error_body_gives_an_excerpt(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=400, text="<html>\n  <b>Bad   gateway</b>\n</html>")
    with pytest.raises(BadRequestError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert "<html> <b>Bad gateway</b> </html>" in str(info.value)
    assert info.value.body is None


def test_empty_error_body_falls_back_to_the_reason_phrase(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=403, content=b"")
    with pytest.raises(PermissionDeniedError) as info:
        client.request(endpoint("ping"), dict, body={})
    assert str(info.value).startswith("Forbidden [")


# -- successful status, bad body ---------------------------------------------------------------


def test_non_json_200_body_is_a_validation_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(
        status_code=200,
        text="<html><body>maintenance</body></html>",
        headers={"content-type": "text/html; charset=utf-8", "x-request-id": "rq-9"},
    )
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), Item, path_params={"item_id": "1"})
    text = str(info.value)
    assert "expected a JSON body" in text
    assert "text/html" in text
    assert "<html><body>maintenance</body></html>" in text
    assert "status 200" in text
    assert "request id rq-9" in text
    assert info.value.status_code == 200


def test_empty_200_body_is_a_validation_error(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=200, content=b"")
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert "<empty body>" in str(info.value)
    assert "status 200" in str(info.value)


def test_long_non_json_body_is_cut_short(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=200, text="x" * 5000)
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    text = str(info.value)
    assert "x" * 200 + "..." in text
    assert "x" * 201 not in text


def test_echoed_key_is_redacted_in_the_excerpt(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(status_code=200, text=f"debug: key={API_KEY}; not json")
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert API_KEY not in str(info.value)
    assert "key=<redacted>; not json" in str(info.value)


def test_schema_violation_names_the_field(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    httpx_mock.add_response(json={"id": "1"})
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), Item, path_params={"item_id": "1"})
    assert "field `name`" in str(info.value)
    assert "does not match its schema" in str(info.value)


def test_schema_violation_names_a_nested_field(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(json={"id": "1", "name": "n", "tags": ["ok", 5]})
    with pytest.raises(APIResponseValidationError) as info:
        client.request(endpoint("get_item"), Item, path_params={"item_id": "1"})
    assert "field `tags.1`" in str(info.value)


def test_valid_body_decodes_into_the_model(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    httpx_mock.add_response(json={"id": "1", "name": "n"})
    item = client.request(endpoint("get_item"), Item, path_params={"item_id": "1"})
    assert item == Item(id="1", name="n")


def test_none_response_type_ignores_the_body(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    httpx_mock.add_response(text="not json at all")
    assert client.request(endpoint("ping"), type(None), body={}) is None


# -- pickling ----------------------------------------------------------------------------------


def test_status_error_from_a_call_pickles(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client()
    for _ in range(3):
        httpx_mock.add_response(
            status_code=429, json={"detail": "slow down"}, headers={"x-request-id": "r1"}
        )
    with pytest.raises(RateLimitError) as info:
        client.request(endpoint("create_item"), dict, body={})
    restored = pickle.loads(pickle.dumps(info.value))
    assert type(restored) is RateLimitError
    assert str(restored) == str(info.value)
    assert restored.status_code == 429
    assert restored.request_id == "r1"
    assert restored.attempts == 3
    assert restored.body == {"detail": "slow down"}
    assert restored.response is None
    assert restored.request is None


@pytest.mark.parametrize(
    "err",
    [
        APIError("plain", endpoint="e", method="GET", path="/p"),
        APIConnectionError("ConnectError: refused", endpoint="e", method="POST", path="/p"),
        APITimeoutError("ReadTimeout: slow", endpoint="e", method="POST", path="/p"),
        APIResponseValidationError("bad body", endpoint="e", status_code=200),
        RequestFailedError("oom", category="server", endpoint="e", request_id="q1"),
        FutureExpiredError("gone", endpoint="e", status_code=410, request_id="q2"),
        FutureTimeoutError("no result", endpoint="e", request_id="q3"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_keeping_class_and_message(err: APIError) -> None:
    err.attempts = 2
    err.elapsed = 1.25
    restored = pickle.loads(pickle.dumps(err))
    assert type(restored) is type(err)
    assert str(restored) == str(err)
    assert "gave up after 2 attempts over 1.2s" in str(restored)
    assert restored.endpoint == err.endpoint
    assert restored.request_id == err.request_id
    if isinstance(err, RequestFailedError):
        assert isinstance(restored, RequestFailedError)
        assert restored.category == "server"


def test_future_timeout_error_is_also_a_builtin_timeout_error() -> None:
    err = FutureTimeoutError("no result", endpoint="e")
    assert isinstance(err, TimeoutError)
    assert isinstance(err, APITimeoutError)
    assert isinstance(err, APIConnectionError)


def test_connection_errors_are_retryable_by_default() -> None:
    assert APIConnectionError("x").retryable is True
    assert APIResponseValidationError("x").retryable is False


def test_a_bare_404_names_the_endpoint_the_server_lacks(
    client: SyncTestClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=404, json={"detail": "Not Found"})
    with pytest.raises(NotFoundError) as info:
        client.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert "does not serve `get_item` (GET /items/{item_id})" in str(info.value)


def _drawn_parents(doc: str) -> dict[str, str]:
    """Class name -> parent name, read from the tree drawn in a docstring."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]\s*)*)(?:[├└]── )?([A-Z]\w*Error)\b", line)
        if match is None:
            continue
        depth = len(match.group(1)) + (4 if "──" in line else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((depth, match.group(2)))
    return parents


def test_the_error_tree_drawn_in_the_docstring_is_the_class_tree() -> None:
    drawn = _drawn_parents(errors_module.__doc__ or "")
    classes = {
        name: obj
        for name in dir(runtime)
        if isinstance(obj := getattr(runtime, name), type) and issubclass(obj, SDKError)
    }
    assert set(drawn) | {"SDKError"} == set(classes)  # every error drawn, nothing else
    for name, parent in drawn.items():
        assert classes[name].__bases__[0] is classes[parent], name
