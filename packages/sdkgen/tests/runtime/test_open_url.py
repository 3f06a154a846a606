"""``open_url``: a GET of a URL the manifest does not describe, through the client's pools, with
its credentials only on the API's own origin, redirects followed hop by hop, its error tree and
its retry policy. Against real servers on 127.0.0.1 (two origins); the request contract with
pytest-httpx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RetryInfo,
    open_url,
)
from tests.runtime._support import (
    API_KEY,
    AsyncFactory,
    HTTPServerThread,
    SyncFactory,
)

BLOB = bytes(range(256)) * 1024  # 256 KiB


class _Storage(BaseHTTPRequestHandler):
    """Another origin (a signed-URL store): records what it is sent; may send back home."""

    seen: ClassVar[list[dict[str, str]]] = []
    home: ClassVar[str] = ""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        if self.path.startswith("/home"):
            self.send_response(302)
            self.send_header("Location", f"{self.home}/v1/files/blob")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/gone"):
            body = b'{"detail": "the signature expired"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(BLOB)


class _API(BaseHTTPRequestHandler):
    """The API's origin: serves, redirects (to itself, to the store, in a loop), refuses,
    fails once, and cuts a body off."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, str]]] = []
    storage: ClassVar[str] = ""
    flaky: ClassVar[list[int]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        name = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        if name == "away":
            return self._redirect(f"{self.storage}/blob?sig=s3cr3t-signature")
        if name == "here":
            return self._redirect("/v1/files/blob")
        if name == "loop":
            return self._redirect(self.path)
        if name == "refused":  # echoes the key: it must not reach the message
            detail = {"detail": f"key {self.headers.get('x-api-key')} may not read this"}
            return self._send(403, json.dumps(detail).encode())
        if name == "flaky" and self.flaky:
            return self._send(self.flaky.pop(0), b'{"detail": "busy"}')
        if name == "cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BLOB[:1000])
            self.wfile.flush()
            self.close_connection = True
            return None
        return self._send(200, BLOB, "application/octet-stream")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    storage = HTTPServerThread(_Storage, lifetime=120)
    api = HTTPServerThread(_API, lifetime=120)
    _API.storage, _Storage.home = storage.base_url, api.base_url
    try:
        yield api.base_url, storage.base_url
    finally:
        api.stop()
        storage.stop()


@pytest.fixture(autouse=True)
def _fresh() -> None:
    _API.seen.clear()
    _Storage.seen.clear()
    _API.flaky.clear()


def test_the_key_goes_to_the_api_origin_and_nowhere_else(
    make_client: SyncFactory, origins: tuple[str, str]
) -> None:
    api, storage = origins
    client = make_client(base_url=f"{api}/v1")
    with open_url(client, "/files/away") as body:  # 302 to the store
        assert body.read() == BLOB
    with open_url(client, f"{storage}/blob?sig=x") as body:
        assert body.read() == BLOB
    first, second = _Storage.seen
    for seen in (first, second):
        assert "x-api-key" not in seen
        assert "x-client-name" not in seen  # the client's default headers stay home too
        assert seen["user-agent"].startswith("testsdk/1.0")
    [home] = _API.seen
    assert home["path"] == "/v1/files/away"  # a path is under the base URL
    assert home["x-api-key"] == API_KEY
    assert home["x-client-name"] == "runtime-tests"


def test_a_redirect_back_home_carries_the_key_again(
    make_client: SyncFactory, origins: tuple[str, str]
) -> None:
    api, storage = origins
    client = make_client(base_url=f"{api}/v1")
    with open_url(client, f"{storage}/home") as body:
        assert body.read() == BLOB
    assert "x-api-key" not in _Storage.seen[0]
    assert _API.seen[0]["x-api-key"] == API_KEY


def test_an_error_status_is_the_typed_error_without_secrets(
    make_client: SyncFactory, origins: tuple[str, str]
) -> None:
    api, storage = origins
    client = make_client(base_url=f"{api}/v1")
    with pytest.raises(NotFoundError, match="the signature expired") as missing:
        open_url(client, f"{storage}/gone?sig=s3cr3t-signature")
    assert "s3cr3t" not in str(missing.value)
    assert missing.value.status_code == 404
    with pytest.raises(PermissionDeniedError) as refused:
        open_url(client, "files/refused")
    assert API_KEY not in str(refused.value)
    assert "may not read this" in str(refused.value)


def test_redirects_are_bounded(make_client: SyncFactory, origins: tuple[str, str]) -> None:
    client = make_client(base_url=f"{origins[0]}/v1")
    with pytest.raises(APIStatusError, match="too many redirects"):
        open_url(client, "files/loop", max_redirects=2)
    assert len(_API.seen) == 3
    with open_url(client, "files/here", max_redirects=1) as body:
        assert body.read() == BLOB


def test_opening_is_retried_by_the_policy_named(
    make_client: SyncFactory, origins: tuple[str, str]
) -> None:
    retries: list[RetryInfo] = []
    client = make_client(base_url=f"{origins[0]}/v1", on_retry=retries.append)
    _API.flaky[:] = [503]
    with pytest.raises(InternalServerError):  # no policy: one attempt
        open_url(client, "files/flaky")
    _API.flaky[:] = [503, 429]
    with open_url(client, "files/flaky", retry="default") as body:
        assert body.read() == BLOB
    assert [r.attempt for r in retries] == [1, 2]
    assert len(_API.seen) == 4
    with pytest.raises(ValueError, match="no retry policy 'nope'"):
        open_url(client, "files/flaky", retry="nope")


def test_a_body_cut_off_is_a_connection_error(
    make_client: SyncFactory, origins: tuple[str, str], tmp_path: Path
) -> None:
    client = make_client(base_url=f"{origins[0]}/v1")
    target = tmp_path / "blob.bin"
    with open_url(client, "files/cut") as body, pytest.raises(APIConnectionError):
        body.write_to_file(target)
    assert list(tmp_path.iterdir()) == []


def test_the_asyncio_twin(make_async_client: AsyncFactory, origins: tuple[str, str]) -> None:
    api, _ = origins
    client = make_async_client(base_url=f"{api}/v1")

    async def main() -> bytes:
        body = await open_url(client, "files/away", timeout=10)
        async with body:
            data = b"".join([chunk async for chunk in body.iter_bytes(4096)])
        with pytest.raises(NotFoundError):
            await open_url(client, f"{origins[1]}/gone")
        return data

    assert asyncio.run(main()) == BLOB
    assert "x-api-key" not in _Storage.seen[0]
    assert _API.seen[0]["x-api-key"] == API_KEY


def test_the_request_contract(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    client = make_client(base_url="https://api.example.test/v1", timeout=7)
    httpx_mock.add_response(content=b"home")
    httpx_mock.add_response(content=b"away")
    with open_url(client, "/exports/1", headers={"X-Trace": "t-1"}, pool="bulk") as body:
        assert body.read() == b"home"
    with open_url(client, "https://store.example.test/x?sig=1", headers={"X-Trace": "t-2"}) as b:
        assert b.read() == b"away"
    home, away = httpx_mock.get_requests()
    assert str(home.url) == "https://api.example.test/v1/exports/1"
    assert home.method == "GET"
    assert home.headers["x-api-key"] == API_KEY
    assert home.headers["x-trace"] == "t-1"
    assert home.headers["accept"] == "*/*"
    assert home.extensions["timeout"]["read"] == 7
    assert away.headers["x-trace"] == "t-2"
    assert "x-api-key" not in away.headers
    assert "x-client-name" not in away.headers
    assert away.url.params["sig"] == "1"


def test_bad_arguments_are_refused_before_anything_is_sent(make_client: SyncFactory) -> None:
    client = make_client()
    with pytest.raises(ValueError, match="max_redirects"):
        open_url(client, "x", max_redirects=-1)
    with pytest.raises(ValueError, match="timeout"):
        open_url(client, "x", timeout=0)
    client.close()
    with pytest.raises(ClientClosedError):
        open_url(client, "x")


def test_a_failed_connection_is_a_connection_error(make_client: SyncFactory) -> None:
    client = make_client(base_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(APIConnectionError) as info:
        open_url(client, "files/blob", timeout=2)
    assert isinstance(info.value.__cause__, httpx.TransportError)
