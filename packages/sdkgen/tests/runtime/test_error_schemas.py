"""Declared error schemas (``APISpec.errors`` / ``EndpointSpec.errors``): a non-2xx body is
validated into ``error.parsed`` and its declared message field is the message; a body that
does not match changes nothing from an undeclared one; the error classes stay the same."""

from __future__ import annotations

import dataclasses
import json
import pickle
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIStatusError,
    BadRequestError,
    ConflictError,
    EndpointSpec,
    ErrorSchemas,
    ErrorShape,
    InternalServerError,
    NotFoundError,
    UnprocessableEntityError,
)
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    ENDPOINTS,
    StartHTTPServer,
    SyncFactory,
    SyncTestClient,
    endpoint,
    sync_client_class,
    url,
)


class Inner(BaseModel):
    message: str
    code: int | None = None


class ErrorBody(BaseModel):
    error: Inner


class Missing(BaseModel):
    detail: dict[str, str]


class ClientFault(BaseModel):
    reason: str
    fields: list[str] = []


API_ERRORS = ErrorSchemas(
    {
        "default": ErrorShape(ErrorBody, "error.message"),
        "4xx": ErrorShape(ClientFault, "reason"),
        409: ErrorShape(ErrorBody, "error"),  # not a string: its JSON, cut short
    }
)
GET_ITEM = dataclasses.replace(
    endpoint("get_item"), errors=ErrorSchemas({404: ErrorShape(Missing, "detail.text")})
)
DECLARED_API = dataclasses.replace(API_SPEC, errors=API_ERRORS)


class Declared(SyncTestClient):
    api: ClassVar[Any] = DECLARED_API
    endpoints: ClassVar[Any] = {**ENDPOINTS, "get_item": GET_ITEM}


def _raise(client: SyncTestClient, spec: EndpointSpec) -> APIStatusError:
    with pytest.raises(APIStatusError) as info:
        client.request(spec, dict, path_params={"item_id": "a"}, body={"x": 1})
    return info.value


def test_the_endpoints_schema_parses_the_body_and_names_the_message(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=404, json={"detail": {"text": "no item a", "id": "a"}})
    err = _raise(make_client(Declared), GET_ITEM)
    assert type(err) is NotFoundError  # the same class as without a declaration
    assert isinstance(err.parsed, Missing)
    assert err.parsed.detail == {"text": "no item a", "id": "a"}
    assert err.message == "no item a"
    assert err.body == {"detail": {"text": "no item a", "id": "a"}}


@pytest.mark.parametrize(
    ("status", "payload", "cls", "shape", "message"),
    [
        (500, {"error": {"message": "disk full", "code": 7}}, InternalServerError, ErrorBody,
         "disk full"),
        (400, {"reason": "bad size", "fields": ["size"]}, BadRequestError, ClientFault,
         "bad size"),
        (422, {"reason": "no name"}, UnprocessableEntityError, ClientFault, "no name"),
        (409, {"error": {"message": "m", "code": 1}}, ConflictError, ErrorBody,
         '{"message": "m", "code": 1}'),
    ],
)  # fmt: skip
def test_exact_status_then_family_then_default(
    make_client: SyncFactory,
    httpx_mock: HTTPXMock,
    status: int,
    payload: dict[str, Any],
    cls: type[APIStatusError],
    shape: type[BaseModel],
    message: str,
) -> None:
    httpx_mock.add_response(status_code=status, json=payload)
    err = _raise(make_client(Declared, max_retries=0), endpoint("ping"))
    assert type(err) is cls
    assert isinstance(err.parsed, shape)
    assert err.message == message


@pytest.mark.parametrize(
    "reply",
    [
        {"content": b"<html>Bad Gateway</html>", "headers": {"content-type": "text/html"}},
        {"json": {"detail": "plain detail"}},  # JSON, but not the declared shape
        {"json": {"error": {"code": 3}}},  # the shape's required message missing
        {"content": b""},
    ],
)
def test_a_body_that_does_not_match_is_reported_as_without_a_declaration(
    make_client: SyncFactory, httpx_mock: HTTPXMock, reply: dict[str, Any]
) -> None:
    httpx_mock.add_response(status_code=502, **reply)
    httpx_mock.add_response(status_code=502, **reply)
    declared = _raise(make_client(Declared, max_retries=0), endpoint("ping"))
    plain = _raise(make_client(max_retries=0), endpoint("ping"))
    assert declared.parsed is None
    assert plain.parsed is None
    assert (type(declared), declared.message, declared.body) == (
        type(plain),
        plain.message,
        plain.body,
    )


def test_the_endpoints_declaration_wins_and_other_endpoints_use_the_apis(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client(Declared, max_retries=0)
    # get_item declares 404 only: a 500 there falls to the API's default.
    httpx_mock.add_response(status_code=500, json={"error": {"message": "oops"}})
    assert _raise(client, GET_ITEM).message == "oops"
    # Another endpoint's 404 takes the API's 4xx shape, not get_item's.
    httpx_mock.add_response(status_code=404, json={"reason": "gone away"})
    err = _raise(client, endpoint("ping"))
    assert isinstance(err.parsed, ClientFault)
    assert err.message == "gone away"


def test_a_key_the_server_echoes_is_redacted_in_parsed_and_message(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        status_code=401, json={"reason": f"unknown key {API_KEY}", "fields": [API_KEY]}
    )
    err = _raise(make_client(Declared, max_retries=0), endpoint("ping"))
    assert isinstance(err.parsed, ClientFault)
    assert API_KEY not in repr(err.parsed)
    assert API_KEY not in str(err)
    assert err.message.startswith("unknown key ")


def test_parsed_survives_pickling(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, json={"detail": {"text": "no"}})
    err = _raise(make_client(Declared), GET_ITEM)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is NotFoundError
    assert copy.parsed == err.parsed
    assert copy.message == "no"


# -- over a socket, after retries ------------------------------------------------------------


class _Busy(BaseHTTPRequestHandler):
    """Always 503 with a declared-shape body."""

    protocol_version = "HTTP/1.1"
    hits: ClassVar[int] = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps({"error": {"message": f"busy ({type(self).hits})"}}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_after_retries_run_out_the_last_body_is_parsed(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    _Busy.hits = 0
    server = http_server(_Busy)
    client = make_client(sync_client_class(DECLARED_API), base_url=server.base_url)
    with pytest.raises(InternalServerError) as info:
        client.request(endpoint("create_item"), dict, body={"name": "a"})
    err = info.value
    assert err.attempts == 3
    assert isinstance(err.parsed, ErrorBody)
    assert err.parsed.error.message == "busy (3)"
    assert err.message == "busy (3)"
    assert url("") not in err.message


def test_find_order() -> None:
    a, b, c = ErrorShape(ErrorBody), ErrorShape(ClientFault), ErrorShape(Missing)
    schemas = ErrorSchemas({404: a, "4xx": b, "default": c})
    assert schemas.find(404) is a
    assert schemas.find(400) is b
    assert schemas.find(503) is c
    assert ErrorSchemas({404: a}).find(400) is None
